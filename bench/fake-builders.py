# Synthetic builds for bench/sampler.sh: N builders, each a session leader under this
# process (run as a copy of the python binary named nix-*, so it looks like a nix process),
# each with K-1 children, all sleeping. Builder i has out=<store>/<hash_i>-bench-i in its
# environment, as Nix gives a builder its outputs. Prints the builders' pids, one per line,
# then waits to be killed (SIGTERM kills every builder's session too).
import os, signal, sys, time

store, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hashes = [l.strip() for l in open(sys.argv[4])]
pids = []
for i in range(n):
    pid = os.fork()
    if pid == 0:
        os.setsid()
        for _ in range(k - 1):
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", "3600"])
        env = {"out": f"{store}/{hashes[i]}-bench-{i}", "PATH": "/usr/bin:/bin"}
        os.execve("/bin/sleep", ["sleep", "3600"], env)
    pids.append(pid)
print("\n".join(map(str, pids)), flush=True)

def stop(*_):
    for p in pids:
        try:
            os.killpg(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
while True:
    time.sleep(3600)
