/*
 * The kernel's floor for connection setup, for docs/BENCHMARKS.md: a plain C client connects, sends a 64-byte
 * frame (4-byte length + 64 bytes), reads it back and closes, 20,000 times, against a forked server that accepts,
 * echoes and closes; client pinned to CPU 0 and server to CPU 1, as ./benchmark pins its processes.
 *
 *   gcc -O2 -o /tmp/connect_floor ipc-bench/src/main/c/connect_floor.c && /tmp/connect_floor unix && /tmp/connect_floor tcp
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <signal.h>

static long ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
static void pin(int cpu){cpu_set_t s;CPU_ZERO(&s);CPU_SET(cpu,&s);sched_setaffinity(0,sizeof s,&s);}
static int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
static void full(int fd,char*b,int n,int rd){int d=0;while(d<n){int r=rd?read(fd,b+d,n-d):write(fd,b+d,n-d);if(r<=0)exit(1);d+=r;}}
int main(int argc,char**argv){
  int tcp=argc>1&&!strcmp(argv[1],"tcp"); int n=20000;
  struct sockaddr_un ua={0}; ua.sun_family=AF_UNIX; strcpy(ua.sun_path,"/tmp/connect_floor.sock"); unlink(ua.sun_path);
  struct sockaddr_in ia={0}; ia.sin_family=AF_INET; ia.sin_addr.s_addr=htonl(INADDR_LOOPBACK);
  int ls=socket(tcp?AF_INET:AF_UNIX,SOCK_STREAM,0); int one=1; setsockopt(ls,SOL_SOCKET,SO_REUSEADDR,&one,sizeof one);
  if(tcp){bind(ls,(void*)&ia,sizeof ia);socklen_t l=sizeof ia;getsockname(ls,(void*)&ia,&l);}else bind(ls,(void*)&ua,sizeof ua);
  listen(ls,511);
  pid_t p=fork();
  if(p==0){pin(1);char b[68];for(;;){int c=accept(ls,0,0);if(c<0)continue;if(tcp)setsockopt(c,IPPROTO_TCP,TCP_NODELAY,&one,sizeof one);full(c,b,68,1);full(c,b,68,0);close(c);}}
  pin(0); long*t=malloc(n*sizeof(long)); char b[68]={0}; b[3]=64;
  for(int i=0;i<n;i++){long t0=ns();int s=socket(tcp?AF_INET:AF_UNIX,SOCK_STREAM,0);
    if(tcp){setsockopt(s,IPPROTO_TCP,TCP_NODELAY,&one,sizeof one);if(connect(s,(void*)&ia,sizeof ia))exit(2);}else if(connect(s,(void*)&ua,sizeof ua))exit(2);
    full(s,b,68,0);full(s,b,68,1);close(s);t[i]=ns()-t0;}
  qsort(t,n,sizeof(long),cmp); printf("%s C connect + 64 B round trip + close: p50 %.1f us p99 %.1f us\n",tcp?"tcp":"unix",t[n/2]/1e3,t[n*99/100]/1e3);
  kill(p,SIGKILL); unlink(ua.sun_path); return 0;}
