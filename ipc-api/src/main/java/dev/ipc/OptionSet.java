package dev.ipc;

import dev.ipc.Option.Scope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What {@link ConnectionOptions}, {@link ServerOptions} and {@link ClientOptions} share: values by {@link Option}, the
 * checks, the query parser and the messages, all driven by the option tables.
 */
abstract class OptionSet {

    /** Every option there is, in the order of the tables: connection, TLS, server, client, datagram. */
    static List<Option<?>> all() {
        return Table.ALL;
    }

    /** Holds the whole table, made on first use: after the three kinds' constants exist. */
    private static final class Table {
        static final List<Option<?>> ALL = Stream.of(
                        ConnectionOptions.TABLE,
                        TlsOptions.TABLE,
                        ServerOptions.TABLE,
                        ClientOptions.TABLE,
                        DatagramOptions.TABLE)
                .flatMap(List::stream)
                .collect(Collectors.toUnmodifiableList());
    }

    /** Keys that are never accepted, with the reason. */
    private static final Map<String, String> REFUSED = Map.of(
            "secret",
            "a secret is never written in the endpoint; name where it is with secretFile=PATH or secretEnv=VARIABLE");

    private final Map<Option<?>, Object> values;

    OptionSet(Map<Option<?>, Object> values) {
        String contradiction = TlsOptions.contradiction(values.keySet());
        if (contradiction != null) {
            throw new IllegalArgumentException(contradiction);
        }
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Who reads options of this kind. */
    abstract Set<Scope> scopes();

    /** The name of this kind, for messages: {@code ConnectionOptions} and so on. */
    abstract String kind();

    /**
     * The option's value: the one set, else its default.
     *
     * @throws IllegalArgumentException if options of this kind do not take {@code option}; the message says which do
     * @throws NoSuchElementException if it is not set and has no default (see {@link #find(Option)})
     */
    public final <T> T get(Option<T> option) {
        return find(option)
                .orElseThrow(() -> new NoSuchElementException(option + " is not set and has no default; use find"));
    }

    /**
     * The option's value: the one set, else its default, else empty.
     *
     * @throws IllegalArgumentException if options of this kind do not take {@code option}
     */
    public final <T> Optional<T> find(Option<T> option) {
        checkTaken(option, scopes(), kind());
        Object value = values.get(option);
        return value != null ? Optional.of(option.type().cast(value)) : option.defaultValue();
    }

    /** Whether {@code option} was set, rather than left at its default. */
    public final boolean isSet(Option<?> option) {
        return values.containsKey(option);
    }

    final Map<Option<?>, Object> values() {
        return values;
    }

    static void checkTaken(Option<?> option, Set<Scope> scopes, String taker) {
        Objects.requireNonNull(option, "option");
        if (Collections.disjoint(option.scopes(), scopes)) {
            throw new IllegalArgumentException(option + " is " + describe(option) + "; " + taker + " does not take it");
        }
    }

    /** Who takes an option, for messages: "an option of IpcClient (ClientOptions)". */
    private static String describe(Option<?> option) {
        List<String> names =
                option.scopes().stream().sorted().map(Scope::reader).collect(Collectors.toList());
        String readers = names.size() == 1
                ? names.get(0)
                : String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.get(names.size() - 1);
        String kind = ClientOptions.TABLE.contains(option)
                ? "ClientOptions"
                : ServerOptions.TABLE.contains(option)
                        ? "ServerOptions"
                        : DatagramOptions.TABLE.contains(option) ? "DatagramOptions" : "ConnectionOptions";
        return "an option of " + readers + " (" + kind + ")";
    }

    /**
     * Reads the endpoint's query into {@code builder}. An endpoint names both ends of a connection, so each key must
     * name an option of the reader's layer, for the endpoint's scheme: one the reader honours ({@code scopes}) is read,
     * one only the other end honours is that end's word and left to it, and any other (another layer's) is refused. The
     * layers are connections ({@code Ipc.listen} and {@code Ipc.connect}) and the runtime ({@code IpcServer} and
     * {@code IpcClient}).
     *
     * @throws IllegalArgumentException naming the endpoint and the key: unknown (with the known keys), refused, taken
     *     by another layer or scheme, or a value that is not valid
     */
    static void readQuery(Endpoint endpoint, Set<Scope> scopes, String reader, Map<Option<?>, Object> builder) {
        Set<Scope> layer = layerOf(scopes);
        List<Option<?>> read = new ArrayList<>();
        try {
            for (Map.Entry<String, String> parameter : endpoint.parameters().entrySet()) {
                String key = parameter.getKey();
                Option<?> option = byKey(key);
                checkTaken(option, layer, reader);
                if (!option.schemes().isEmpty() && !option.schemes().contains(endpoint.scheme())) {
                    throw new IllegalArgumentException(key + " is an option of "
                            + String.join(": and ", option.schemes()) + ": endpoints only; " + endpoint.scheme()
                            + ": endpoints do not take it");
                }
                if (Collections.disjoint(option.scopes(), scopes)) {
                    continue; // the other end's
                }
                parse(builder, option, key, parameter.getValue());
                read.add(option);
            }
            for (Option<?> option : read) {
                check(builder, option);
            }
            String contradiction = TlsOptions.contradiction(builder.keySet());
            if (contradiction != null) {
                throw new IllegalArgumentException(contradiction);
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("endpoint '" + endpoint + "': " + e.getMessage(), e);
        }
    }

    /** Both ends of the layer that {@code scopes} belong to. */
    private static Set<Scope> layerOf(Set<Scope> scopes) {
        if (scopes.contains(Scope.BIND_DATAGRAM) || scopes.contains(Scope.CONNECT_DATAGRAM)) {
            return EnumSet.of(Scope.BIND_DATAGRAM, Scope.CONNECT_DATAGRAM);
        }
        return scopes.contains(Scope.SERVER) || scopes.contains(Scope.CLIENT)
                ? EnumSet.of(Scope.SERVER, Scope.CLIENT)
                : EnumSet.of(Scope.LISTEN, Scope.CONNECT);
    }

    private static <T> void parse(Map<Option<?>, Object> builder, Option<T> option, String key, String text) {
        builder.put(option, option.parse(key, text, option.type().cast(builder.get(option))));
    }

    private static <T> void check(Map<Option<?>, Object> builder, Option<T> option) {
        option.check(option.type().cast(builder.get(option)));
    }

    private static Option<?> byKey(String key) {
        String refused = REFUSED.get(key);
        if (refused != null) {
            throw new IllegalArgumentException(refused);
        }
        for (Option<?> option : all()) {
            if (option.keys().contains(key)) {
                return option;
            }
        }
        throw new IllegalArgumentException("unknown option '" + key + "' (known: " + knownKeys() + ")");
    }

    /** Every query key, in table order. */
    static String knownKeys() {
        List<String> keys = new ArrayList<>();
        for (Option<?> option : all()) {
            keys.addAll(option.keys());
        }
        return String.join(", ", keys);
    }

    /** The options of one kind's table, as a kind's builder checks them. */
    static Set<Scope> scopesOf(Scope first, Scope... rest) {
        return Collections.unmodifiableSet(EnumSet.of(first, rest));
    }

    @Override
    public final boolean equals(Object other) {
        return other != null && other.getClass() == getClass() && values.equals(((OptionSet) other).values);
    }

    @Override
    public final int hashCode() {
        return values.hashCode();
    }

    /** The options set, by name: {@code ServerOptions{maxInFlight=64}}; defaults are left out. */
    @Override
    public final String toString() {
        return kind()
                + values.entrySet().stream()
                        .map(entry -> entry.getKey().name() + "=" + entry.getValue())
                        .collect(Collectors.joining(", ", "{", "}"));
    }

    /** What the builders of every kind share. */
    abstract static class AbstractBuilder<B extends AbstractBuilder<B>> {
        final Map<Option<?>, Object> values = new LinkedHashMap<>();
        private final Set<Scope> scopes;
        private final String kind;

        AbstractBuilder(Set<Scope> scopes, String kind, OptionSet from) {
            this.scopes = scopes;
            this.kind = kind;
            if (from != null) {
                values.putAll(from.values);
            }
        }

        abstract B self();

        /**
         * Sets an option.
         *
         * @throws IllegalArgumentException if options of this kind do not take it, or the value is out of bounds
         *     (naming the option, its bounds and the value)
         */
        public final <T> B set(Option<T> option, T value) {
            checkTaken(option, scopes, kind);
            values.put(option, option.check(value));
            return self();
        }

        /**
         * Takes the values set in {@code options} that options of this kind honour: a server or a client takes the
         * frame limit, the secret, TLS and the rest of what it honours, and leaves out the others (a raw connection's
         * read timeout, say).
         */
        public final B connection(ConnectionOptions options) {
            return takeFrom(options);
        }

        /** Takes the values set in {@code from} that options of this kind honour. */
        final B takeFrom(OptionSet from) {
            from.values().forEach((option, value) -> {
                if (!Collections.disjoint(option.scopes(), scopes)) {
                    values.put(option, value);
                }
            });
            return self();
        }

        /** Takes an option back to its default. */
        public final B clear(Option<?> option) {
            checkTaken(option, scopes, kind);
            values.remove(option);
            return self();
        }

        /**
         * Applies the endpoint's query over what is set: the query is the deployment's word.
         *
         * @throws IllegalArgumentException naming the endpoint and the key, for a key options of this kind do not take
         *     or a value that is not valid
         */
        public final B query(Endpoint endpoint) {
            String reader = scopes.size() == 1 ? scopes.iterator().next().reader() : kind;
            readQuery(Objects.requireNonNull(endpoint, "endpoint"), scopes, reader, values);
            return self();
        }
    }
}
