package dev.ipc;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The future {@link IpcClient#callAsync} returns: completed on whatever thread learns the answer (the connection's
 * reader, most often), which wakes a caller waiting in {@code get} or {@code join} with no hand-off between, while
 * every stage chained to it runs on the client's executor, never on that thread. A stage that blocks, or makes another
 * call and waits for it, so never holds up the reader. Derived stages run their own {@code *Async} stages on the
 * client's executor by default.
 *
 * <p>Handing each completion to the executor, as the future did at first, cost a wake-up of a completion thread on
 * every call: on one or two CPUs, a fifth of {@code callAsync}'s rate.
 */
final class CallFuture extends CompletableFuture<byte[]> {

    private final Executor executor;

    CallFuture(Executor executor) {
        this.executor = executor;
    }

    @Override
    public Executor defaultExecutor() {
        return executor;
    }

    /** Runs {@code action} on the thread that completes the future: for the client's own quick bookkeeping only. */
    void whenDone(BiConsumer<? super byte[], ? super Throwable> action) {
        super.whenComplete(action);
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new OnExecutor<>(executor);
    }

    @Override
    public <U> CompletableFuture<U> thenApply(Function<? super byte[], ? extends U> fn) {
        return thenApplyAsync(fn, executor);
    }

    @Override
    public CompletableFuture<Void> thenAccept(Consumer<? super byte[]> action) {
        return thenAcceptAsync(action, executor);
    }

    @Override
    public CompletableFuture<Void> thenRun(Runnable action) {
        return thenRunAsync(action, executor);
    }

    @Override
    public <U, V> CompletableFuture<V> thenCombine(
            CompletionStage<? extends U> other, BiFunction<? super byte[], ? super U, ? extends V> fn) {
        return thenCombineAsync(other, fn, executor);
    }

    @Override
    public <U> CompletableFuture<Void> thenAcceptBoth(
            CompletionStage<? extends U> other, BiConsumer<? super byte[], ? super U> action) {
        return thenAcceptBothAsync(other, action, executor);
    }

    @Override
    public CompletableFuture<Void> runAfterBoth(CompletionStage<?> other, Runnable action) {
        return runAfterBothAsync(other, action, executor);
    }

    @Override
    public <U> CompletableFuture<U> applyToEither(
            CompletionStage<? extends byte[]> other, Function<? super byte[], U> fn) {
        return applyToEitherAsync(other, fn, executor);
    }

    @Override
    public CompletableFuture<Void> acceptEither(
            CompletionStage<? extends byte[]> other, Consumer<? super byte[]> action) {
        return acceptEitherAsync(other, action, executor);
    }

    @Override
    public CompletableFuture<Void> runAfterEither(CompletionStage<?> other, Runnable action) {
        return runAfterEitherAsync(other, action, executor);
    }

    @Override
    public <U> CompletableFuture<U> thenCompose(Function<? super byte[], ? extends CompletionStage<U>> fn) {
        return thenComposeAsync(fn, executor);
    }

    @Override
    public CompletableFuture<byte[]> whenComplete(BiConsumer<? super byte[], ? super Throwable> action) {
        return whenCompleteAsync(action, executor);
    }

    @Override
    public <U> CompletableFuture<U> handle(BiFunction<? super byte[], Throwable, ? extends U> fn) {
        return handleAsync(fn, executor);
    }

    @Override
    public CompletableFuture<byte[]> exceptionally(Function<Throwable, ? extends byte[]> fn) {
        return exceptionallyAsync(fn, executor);
    }

    @Override
    public CompletableFuture<byte[]> exceptionallyCompose(Function<Throwable, ? extends CompletionStage<byte[]>> fn) {
        return exceptionallyComposeAsync(fn, executor);
    }

    @Override
    public CompletableFuture<byte[]> toCompletableFuture() {
        return this;
    }

    /** A stage derived from a call's future: its {@code *Async} stages run on the client's executor by default. */
    private static final class OnExecutor<T> extends CompletableFuture<T> {
        private final Executor executor;

        OnExecutor(Executor executor) {
            this.executor = executor;
        }

        @Override
        public Executor defaultExecutor() {
            return executor;
        }

        @Override
        public <U> CompletableFuture<U> newIncompleteFuture() {
            return new OnExecutor<>(executor);
        }
    }
}
