#!/bin/sh
# The demo payload: shows what the launcher hands an application.
echo "hello from a Flavor package"
echo "  args:       $*"
echo "  GREETING:   $GREETING"
echo "  workenv:    $FLAVOR_WORKENV"
echo "  data files: $(cd "$FLAVOR_WORKENV/share/hello" && find . -type f | sort | tr '\n' ' ')"
cat "$FLAVOR_WORKENV/share/hello/data/motd.txt"
