/*
 * The kernel's floor, measured at the start of every ./benchmark run (built there when a C compiler is present): a C
 * client and a forked C server exchange messages with nothing but system calls, for each family the benchmark
 * compares (Unix stream, TCP loopback, Unix datagram, UDP loopback), with the server on another CPU ("cross", as the
 * benchmark pins its processes) and on the same one ("same").
 *
 *   round trip: 64-byte messages (and 1 MiB on streams) sent and echoed for 0.2 s; p50 and p99 in microseconds.
 *   one way:    64-byte messages (and 1 MiB on streams) written one per system call for 0.2 s; the receiver counts
 *               what arrived, and the rate is its count over the time (a datagram refused while the receiver's
 *               queue is full is not sent again: it counts as lost).
 *
 * Prints one line per case:  floor FAMILY PLACEMENT roundtrip SIZE P50_US P99_US
 *                            floor FAMILY PLACEMENT oneway SIZE MESSAGES_PER_SECOND
 * Usage: floor SERVER_CPU [DIRECTORY]   (cc -O2 -o floor floor.c)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECONDS 0.2
#define MAX_SAMPLES 2000000

static const char *directory = "/tmp";
static int server_cpu = 1;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int full(int fd, char *buffer, long n, int reading) {
  long done = 0;
  while (done < n) {
    long r = reading ? read(fd, buffer + done, n - done) : write(fd, buffer + done, n - done);
    if (r <= 0) return -1;
    done += r;
  }
  return 0;
}

static int is_stream(const char *family) { return !strcmp(family, "unix") || !strcmp(family, "tcp"); }
static int is_inet(const char *family) { return !strcmp(family, "tcp") || !strcmp(family, "udp"); }

/* A bound socket and the address to reach it. */
typedef struct {
  int fd;
  struct sockaddr_storage address;
  socklen_t length;
} endpoint;

static endpoint bind_server(const char *family, const char *name) {
  endpoint e = {0};
  int type = is_stream(family) ? SOCK_STREAM : SOCK_DGRAM;
  if (is_inet(family)) {
    struct sockaddr_in *in = (struct sockaddr_in *)&e.address;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.fd = socket(AF_INET, type, 0);
    e.length = sizeof *in;
    bind(e.fd, (struct sockaddr *)in, e.length);
    getsockname(e.fd, (struct sockaddr *)in, &e.length);
  } else {
    struct sockaddr_un *un = (struct sockaddr_un *)&e.address;
    un->sun_family = AF_UNIX;
    snprintf(un->sun_path, sizeof un->sun_path, "%s/floor-%d-%s", directory, (int)getpid(), name);
    unlink(un->sun_path);
    e.fd = socket(AF_UNIX, type, 0);
    e.length = sizeof *un;
    bind(e.fd, (struct sockaddr *)un, e.length);
  }
  if (type == SOCK_STREAM) listen(e.fd, 16);
  return e;
}

static int connect_client(const char *family, endpoint *server, const char *name) {
  int type = is_stream(family) ? SOCK_STREAM : SOCK_DGRAM;
  int fd = socket(is_inet(family) ? AF_INET : AF_UNIX, type, 0);
  if (!is_inet(family) && type == SOCK_DGRAM) { /* a Unix datagram client needs an address to be answered at */
    struct sockaddr_un me = {0};
    me.sun_family = AF_UNIX;
    snprintf(me.sun_path, sizeof me.sun_path, "%s/floor-%d-%s-client", directory, (int)getpid(), name);
    unlink(me.sun_path);
    bind(fd, (struct sockaddr *)&me, sizeof me);
  }
  if (connect(fd, (struct sockaddr *)&server->address, server->length)) {
    perror("connect");
    exit(2);
  }
  int one = 1;
  if (!strcmp(family, "tcp")) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* The server: echoes (round trip) or counts messages until the client is done, then reports the count on a pipe. */
static void serve(const char *family, endpoint *server, int echo, long size, int report) {
  char *buffer = malloc(size > 65536 ? size : 65536);
  int fd = server->fd;
  int one = 1;
  if (is_stream(family)) {
    fd = accept(server->fd, 0, 0);
    if (!strcmp(family, "tcp")) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  long count = 0, bytes = 0;
  if (!is_stream(family) && !echo) { /* the sender stops; what it sent arrives within 200 ms */
    struct timeval wait = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  }
  for (;;) {
    if (is_stream(family)) {
      if (echo) {
        if (full(fd, buffer, size, 1) || full(fd, buffer, size, 0)) break;
        count++;
      } else {
        long r = read(fd, buffer, size > 65536 ? 65536 : size);
        if (r <= 0) break;
        bytes += r;
      }
    } else {
      struct sockaddr_storage from;
      socklen_t length = sizeof from;
      long r = recvfrom(fd, buffer, 65536, 0, (struct sockaddr *)&from, &length);
      if (r <= 0) break;
      count++;
      if (echo) sendto(fd, buffer, r, 0, (struct sockaddr *)&from, length);
    }
  }
  if (is_stream(family) && !echo) count = bytes / size;
  if (write(report, &count, sizeof count) != sizeof count) exit(3);
  exit(0);
}

static void run(const char *family, const char *placement, int echo, long size) {
  char name[64];
  snprintf(name, sizeof name, "%s-%s-%d-%ld", family, placement, echo, size);
  endpoint server = bind_server(family, name);
  int pipes[2];
  if (pipe(pipes)) exit(4);
  pid_t child = fork();
  if (child == 0) {
    pin(strcmp(placement, "same") ? server_cpu : 0);
    close(pipes[0]);
    serve(family, &server, echo, size, pipes[1]);
  }
  close(pipes[1]);
  pin(0);
  int fd = connect_client(family, &server, name);
  char *buffer = calloc(1, size);
  if (echo) {
    double *samples = malloc(sizeof(double) * MAX_SAMPLES);
    long n = 0;
    for (int warm = 0; warm < (size > 65536 ? 50 : 1000); warm++) {
      if (is_stream(family) ? full(fd, buffer, size, 0) || full(fd, buffer, size, 1)
                            : write(fd, buffer, size) != size || read(fd, buffer, size) != size) exit(5);
    }
    double end = now() + SECONDS;
    while (n < MAX_SAMPLES) {
      double t0 = now();
      if (t0 > end) break;
      if (is_stream(family) ? full(fd, buffer, size, 0) || full(fd, buffer, size, 1)
                            : write(fd, buffer, size) != size || read(fd, buffer, size) != size) exit(5);
      samples[n++] = now() - t0;
    }
    qsort(samples, n, sizeof(double), compare);
    printf("floor %s %s roundtrip %ld %.2f %.2f\n", family, placement, size, samples[n / 2] * 1e6,
           samples[n * 99 / 100] * 1e6);
    free(samples);
  } else {
    double start = now(), end = start + SECONDS;
    while (now() < end) {
      for (int i = 0; i < 16; i++) {
        if (is_stream(family)) {
          if (full(fd, buffer, size, 0)) exit(6);
        } else if (send(fd, buffer, size, MSG_DONTWAIT) < 0) {
          /* refused while the receiver's queue is full: not counted, as it never arrives */
        }
      }
    }
    double elapsed = now() - start;
    if (is_stream(family)) shutdown(fd, SHUT_WR);
    long count = 0;
    if (read(pipes[0], &count, sizeof count) != sizeof count) exit(7);
    if (is_stream(family)) elapsed = now() - start;
    printf("floor %s %s oneway %ld %.0f\n", family, placement, size, count / elapsed);
  }
  fflush(stdout);
  close(fd);
  kill(child, SIGKILL);
  waitpid(child, 0, 0);
  close(pipes[0]);
  close(server.fd);
  if (!is_inet(family)) {
    unlink(((struct sockaddr_un *)&server.address)->sun_path);
    char client[200];
    snprintf(client, sizeof client, "%s/floor-%d-%s-client", directory, (int)getpid(), name);
    unlink(client);
  }
  free(buffer);
}

int main(int argc, char **argv) {
  if (argc > 1) server_cpu = atoi(argv[1]);
  if (argc > 2) directory = argv[2];
  signal(SIGPIPE, SIG_IGN);
  const char *families[] = {"unix", "tcp", "unixgram", "udp"};
  const char *placements[] = {"cross", "same"};
  for (int f = 0; f < 4; f++) {
    for (int p = 0; p < 2; p++) {
      run(families[f], placements[p], 1, 64);
      run(families[f], placements[p], 0, 64);
    }
    if (is_stream(families[f])) {
      run(families[f], "cross", 1, 1 << 20);
      run(families[f], "cross", 0, 1 << 20);
    }
  }
  return 0;
}
