/**
 * The ipc API: endpoints, connections, listeners, options, the request/response server and client, and the
 * {@link dev.ipc.Ipc} entry point that finds a transport for an endpoint.
 *
 * <p>Null policy: no parameter accepts {@code null} and no method returns it unless its documentation says so (absent
 * values are {@link java.util.Optional}s); a {@code null} where none is allowed fails at once with a
 * {@link NullPointerException} that names the parameter.
 */
package dev.ipc;
