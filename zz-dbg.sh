bash scripts/deps.sh >/dev/null
CC=gcc meson setup build/d -Dtests=enabled -Dplugin=disabled >/dev/null && ninja -C build/d src/daemon/nix-analyticsd src/ctl/nix-analytics-ctl >/dev/null || exit 1
E2E_KEEP=1 bash tests/e2e/nix-daemon-route.sh build/d/src/daemon/nix-analyticsd build/d/src/ctl/nix-analytics-ctl ${ROUTE:-ingest} > /tmp/out 2>&1
grep -E '^(FAIL|RESULT)' /tmp/out | head -40
d=$(ls -d /tmp/na-e2e-nix-daemon-route.*); for f in out.a out.b rc.a rc.b; do echo "--- $f"; head -c 1500 $d/$f; done
ls -la $d $d/sock
