package dev.ipc.internal;

import dev.ipc.ApplicationException;
import dev.ipc.ErrorCode;
import dev.ipc.RemoteException;
import java.util.Objects;

/**
 * One frame of the runtime's protocol ({@code docs/PROTOCOL.md}) after the hello, as a value: {@link Codec} turns bytes
 * into frames and back, with every offset, length and version rule in one place. A frame that carries a payload holds
 * the array it was given (or decoded into), without a copy: whoever makes one hands the array over.
 */
public sealed interface Frame
        permits Frame.Hello,
                Frame.Welcome,
                Frame.Request,
                Frame.Response,
                Frame.Stream,
                Frame.Error,
                Frame.GoAway,
                Frame.Cancel,
                Frame.Credit {

    /** The type byte on the wire. */
    byte type();

    /** The client's first frame: the newest protocol version it speaks. */
    record Hello(int version) implements Frame {
        @Override
        public byte type() {
            return Codec.HELLO;
        }
    }

    /**
     * The server's answer to a HELLO: the version spoken, its payload limit, and the most requests it takes in flight
     * on the connection (from version 2; a version 1 WELCOME states none, decoded as 0).
     */
    record Welcome(int version, int maxPayload, int maxInFlight) implements Frame {
        @Override
        public byte type() {
            return Codec.WELCOME;
        }
    }

    /**
     * A call: its id, from version 3 its timeout in milliseconds (0 for none) and its window (STREAM frames the client
     * takes before it grants more; 0 for a single answer), and its payload.
     */
    record Request(int id, long timeoutMillis, long window, byte[] payload) implements Frame {
        public Request {
            Objects.requireNonNull(payload, "payload");
        }

        @Override
        public byte type() {
            return Codec.REQUEST;
        }
    }

    /** A single answer, or the end of a stream: the request's id and the payload. */
    record Response(int id, byte[] payload) implements Frame {
        public Response {
            Objects.requireNonNull(payload, "payload");
        }

        @Override
        public byte type() {
            return Codec.RESPONSE;
        }
    }

    /** One message of a streamed answer (version 3). */
    record Stream(int id, byte[] payload) implements Frame {
        public Stream {
            Objects.requireNonNull(payload, "payload");
        }

        @Override
        public byte type() {
            return Codec.STREAM;
        }
    }

    /** An error about a request ({@code id}), or about the connection (id 0): its code number and message. */
    record Error(int id, int code, String message) implements Frame {
        public Error {
            Objects.requireNonNull(message, "message");
        }

        /** An error with one of the protocol's codes. */
        public Error(int id, ErrorCode code, String message) {
            this(id, code.code(), message);
        }

        @Override
        public byte type() {
            return Codec.ERROR;
        }

        /** The code as this library knows it ({@link ErrorCode#APPLICATION} for an application's number). */
        public ErrorCode errorCode() {
            return ErrorCode.of(code);
        }

        /** The exception a caller gets for it: an application's, or the protocol's. */
        public RemoteException toException() {
            ErrorCode known = errorCode();
            return known == ErrorCode.APPLICATION
                    ? new ApplicationException(code, message)
                    : new RemoteException(known, message);
        }
    }

    /**
     * The server takes no more requests after {@code lastId} (0 for none; -1 where a version 1 GOAWAY states none), and
     * why.
     */
    record GoAway(long lastId, String message) implements Frame {
        public GoAway {
            Objects.requireNonNull(message, "message");
        }

        @Override
        public byte type() {
            return Codec.GOAWAY;
        }
    }

    /** The client gives up on request {@code id} (version 3). */
    record Cancel(int id) implements Frame {
        @Override
        public byte type() {
            return Codec.CANCEL;
        }
    }

    /** The client takes {@code count} more messages of request {@code id}'s stream (version 3). */
    record Credit(int id, long count) implements Frame {
        @Override
        public byte type() {
            return Codec.CREDIT;
        }
    }
}
