package dev.ipc;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * One setting, as a typed key: its name in an endpoint's query, its type, its default, its bounds, who honours it and
 * what it means. The constants in {@link ConnectionOptions}, {@link ServerOptions} and {@link ClientOptions} are the
 * whole table; every check, the query parser, the messages and {@code toString} read it.
 *
 * <pre>{@code
 * ServerOptions options = ServerOptions.builder().set(ServerOptions.MAX_IN_FLIGHT, 64).build();
 * options.get(ServerOptions.MAX_IN_FLIGHT); // 64
 * }</pre>
 *
 * @param <T> the type of the option's value
 */
public final class Option<T> {

    /** Who reads an option: where setting it has an effect. */
    public enum Scope {
        /** A listener, from {@link Ipc#listen}. */
        LISTEN("Ipc.listen"),
        /** A connection, from {@link Ipc#connect}. */
        CONNECT("Ipc.connect"),
        /** An {@link IpcServer}. */
        SERVER("IpcServer"),
        /** An {@link IpcClient}. */
        CLIENT("IpcClient"),
        /** A datagram socket bound to an endpoint, from {@link Ipc#bindDatagram}. */
        BIND_DATAGRAM("Ipc.bindDatagram"),
        /** A datagram socket connected to an endpoint, from {@link Ipc#connectDatagram}. */
        CONNECT_DATAGRAM("Ipc.connectDatagram");

        private final String reader;

        Scope(String reader) {
            this.reader = reader;
        }

        /** Who reads it, for messages: {@code Ipc.listen}, {@code IpcServer} and so on. */
        public String reader() {
            return reader;
        }
    }

    /** Reads a value from an endpoint's query; the key is the one it was written under. */
    @FunctionalInterface
    interface Parser<T> {
        T parse(String key, String value, T current);
    }

    private final String name;
    private final Class<T> type;
    private final T defaultValue;
    private final String description;
    private final Set<Scope> scopes;
    private final Set<String> schemes;
    private final List<String> keys;
    private final Parser<T> parser;
    private final Function<T, String> check;

    private Option(Builder<T> builder) {
        this.name = builder.name;
        this.type = builder.type;
        this.defaultValue = builder.defaultValue;
        this.description = builder.description;
        this.scopes = builder.scopes;
        this.schemes = builder.schemes;
        this.keys = builder.keys == null ? List.of(builder.name) : builder.keys;
        this.parser = builder.parser;
        this.check = builder.check;
    }

    /** The option's name: its key in an endpoint's query, such as {@code connectTimeout}. */
    public String name() {
        return name;
    }

    /** The type of its value. */
    public Class<T> type() {
        return type;
    }

    /** Its value when none is set; empty where "unset" has a meaning of its own (no secret, say). */
    public Optional<T> defaultValue() {
        return Optional.ofNullable(defaultValue);
    }

    /** What it means, in one sentence. */
    public String description() {
        return description;
    }

    /** Who honours it. */
    public Set<Scope> scopes() {
        return scopes;
    }

    /** The endpoint schemes it applies to, such as {@code unix}, in the order written; empty if it applies to all. */
    public Set<String> schemes() {
        return schemes;
    }

    /** The keys it is written under in a query: its name, or (for a secret and TLS) several. */
    List<String> keys() {
        return keys;
    }

    T parse(String key, String value, T current) {
        return parser.parse(key, value, current);
    }

    /**
     * Checks a value; {@code check} gives the whole message, or null if the value is good.
     *
     * @throws IllegalArgumentException naming the option, its bounds and the value, if it is out of bounds
     */
    T check(T value) {
        Objects.requireNonNull(value, name);
        if (!type.isInstance(value)) {
            throw new IllegalArgumentException(name + " takes a " + type.getSimpleName() + ", was " + value);
        }
        String problem = check.apply(value);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return value;
    }

    @Override
    public String toString() {
        return name;
    }

    static <T> Builder<T> of(String name, Class<T> type, T defaultValue, String description) {
        return new Builder<>(name, type, defaultValue, description);
    }

    /** A duration, zero meaning "none", written {@code 250ms}, {@code 5s}, {@code 2m}, {@code 1h} or {@code PT5S}. */
    static Builder<Duration> duration(String name, Duration defaultValue, String description) {
        return of(name, Duration.class, defaultValue, description)
                .parser(text -> parseDuration(text))
                .check(value -> value.isNegative()
                        ? name + " must be zero (none) or positive, was " + value
                        : value.getSeconds() > 292L * 365 * 24 * 3600
                                ? name + " must be at most 292 years, was " + value
                                : null);
    }

    /** A count or size between {@code min} and {@code max}, written in bytes or with {@code KiB}, {@code MiB}. */
    static Builder<Integer> size(String name, int defaultValue, int min, int max, String description) {
        return of(name, Integer.class, defaultValue, description)
                .parser(Option::parseSize)
                .check(value -> value < min || value > max
                        ? name + " must be between " + min + " and " + max + ", was " + value
                        : null);
    }

    /** {@code true} or {@code false}. */
    static Builder<Boolean> flag(String name, boolean defaultValue, String description) {
        return of(name, Boolean.class, defaultValue, description).parser(text -> {
            if (text.equals("true") || text.equals("false")) {
                return Boolean.parseBoolean(text);
            }
            throw new IllegalArgumentException("must be true or false, was '" + text + "'");
        });
    }

    /** One of an enum's constants, by its lower-case name. */
    static <E extends Enum<E>> Builder<E> choice(String name, Class<E> type, E defaultValue, String description) {
        return of(name, type, defaultValue, description).parser(text -> {
            for (E constant : type.getEnumConstants()) {
                if (constant.name().toLowerCase(Locale.ROOT).equals(text)) {
                    return constant;
                }
            }
            List<String> names = Arrays.stream(type.getEnumConstants())
                    .map(constant -> constant.name().toLowerCase(Locale.ROOT))
                    .collect(Collectors.toList());
            throw new IllegalArgumentException(name + " must be "
                    + String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.get(names.size() - 1)
                    + ", was '" + text + "'");
        });
    }

    static Duration parseDuration(String text) {
        String value = text.trim();
        try {
            if (value.startsWith("P") || value.startsWith("p")) {
                return Duration.parse(value);
            }
            if (value.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(value.substring(0, value.length() - 2)));
            }
            long amount = Long.parseLong(value.substring(0, Math.max(0, value.length() - 1)));
            switch (value.isEmpty() ? ' ' : value.charAt(value.length() - 1)) {
                case 's':
                    return Duration.ofSeconds(amount);
                case 'm':
                    return Duration.ofMinutes(amount);
                case 'h':
                    return Duration.ofHours(amount);
                default:
                    break;
            }
        } catch (NumberFormatException | DateTimeParseException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("'" + text + "' is not a duration (write 250ms, 5s, 2m, 1h or PT5S)");
    }

    static int parseSize(String text) {
        String value = text.trim();
        long unit = 1;
        for (String[] suffix : new String[][] {{"KiB", "1024"}, {"MiB", "1048576"}, {"GiB", "1073741824"}}) {
            if (value.endsWith(suffix[0])) {
                unit = Long.parseLong(suffix[1]);
                value = value.substring(0, value.length() - suffix[0].length());
                break;
            }
        }
        try {
            long size = Math.multiplyExact(Long.parseLong(value), unit);
            if (size > Integer.MAX_VALUE || size < Integer.MIN_VALUE) {
                throw new IllegalArgumentException("'" + text + "' is over " + Integer.MAX_VALUE);
            }
            return (int) size;
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size (write 4096, 64KiB or 16MiB)", e);
        }
    }

    /** Builds one row of an option table. */
    static final class Builder<T> {
        private final String name;
        private final Class<T> type;
        private final T defaultValue;
        private final String description;
        private Set<Scope> scopes = Set.copyOf(EnumSet.of(Scope.LISTEN, Scope.CONNECT, Scope.SERVER, Scope.CLIENT));
        private Set<String> schemes = Set.of();
        private List<String> keys;
        private Parser<T> parser = (key, value, current) -> {
            throw new IllegalArgumentException("cannot be written in an endpoint");
        };
        private Function<T, String> check = value -> null;

        private Builder(String name, Class<T> type, T defaultValue, String description) {
            this.name = name;
            this.type = type;
            this.defaultValue = defaultValue;
            this.description = description;
        }

        Builder<T> scopes(Scope first, Scope... rest) {
            this.scopes = Set.copyOf(EnumSet.of(first, rest));
            return this;
        }

        Builder<T> schemes(String... schemes) {
            this.schemes = Collections.unmodifiableSet(new LinkedHashSet<>(List.of(schemes)));
            return this;
        }

        Builder<T> keys(String... keys) {
            this.keys = List.of(keys);
            return this;
        }

        Builder<T> parser(Function<String, T> parser) {
            this.parser = (key, value, current) -> parser.apply(value);
            return this;
        }

        Builder<T> parser(Parser<T> parser) {
            this.parser = parser;
            return this;
        }

        Builder<T> check(Function<T, String> check) {
            this.check = check;
            return this;
        }

        Option<T> build() {
            Option<T> option = new Option<>(this);
            if (defaultValue != null) {
                option.check(defaultValue);
            }
            return option;
        }
    }
}
