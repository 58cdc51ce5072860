/**
 * Stand-alone programs that measure a peer (Netty, gRPC) the way its own examples use it, sharing no code with the
 * benchmark, to check the benchmark's figures for that peer.
 */
package dev.ipc.bench.alone;
