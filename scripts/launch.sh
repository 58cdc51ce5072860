# Sourced by every launcher (benchmark, ipc, ipc-demo, ipc-examples/bin/kv and kvd): the one place that
# knows how a launcher builds the project and starts a JVM on a module's class path.
#   ipc_launch [--build] [--pin] NAME MODULE MAIN_CLASS [JVM_OPTION...] -- [ARG...]
# builds (mvn package, tests skipped) when --build is given or the module has not been built yet, then
# replaces the shell with java on the module's classes and class path; --pin runs that JVM on the first
# CPU (taskset, where there are two or more; IPC_BENCH_PIN=0 leaves it, and the benchmark's servers, to the
# scheduler). On JDK 24 and later it passes
# --enable-native-access=ALL-UNNAMED, which junixsocket's JNI code needs there.
ipc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ipc_launch() {
  local always_build=false pin=()
  if [ "$1" = "--build" ]; then always_build=true; shift; fi
  if [ "$1" = "--pin" ]; then
    shift
    if [ "${IPC_BENCH_PIN:-1}" != 0 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
      pin=(taskset -c 0)
    fi
  fi
  local name="$1" module_name="$2" module="$ipc_root/$2" main="$3"
  shift 3
  local jvm=()
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do jvm+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift
  if $always_build || [ ! -f "$module/target/classpath.txt" ] || [ ! -d "$module/target/classes" ]; then
    echo "$name: building (mvn package, tests skipped)..." >&2
    # Only what the launcher runs (and the CLI, which the benchmark starts as a fresh process).
    (cd "$ipc_root" && mvn -q -B -T 2 -DskipTests -Dipc.quick package -pl "$module_name,ipc-cli" -am >&2)
  fi
  local version
  version="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1)"
  if [ "$version" -ge 24 ]; then
    jvm=(--enable-native-access=ALL-UNNAMED "${jvm[@]}")
  fi
  exec "${pin[@]}" java "${jvm[@]}" -cp "$module/target/classes:$(cat "$module/target/classpath.txt")" "$main" "$@"
}
