#!/usr/bin/env bash
# The libjwt floor, CI side (issue 10, S16; handlers/jwt_floor.h is the start-up side): fails unless the installed
# libjwt0 is 1.10.2-1+deb12u1 or later, Debian's first build with the fix of CVE-2024-25189.
#
#   scripts/check-libjwt.sh            check the installed package (dpkg-query -W libjwt0)
#   scripts/check-libjwt.sh VERSION    check VERSION instead (the check's own test)
set -euo pipefail

floor=1.10.2-1+deb12u1
if [ $# -gt 1 ]; then
    sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    version=$1
elif ! version=$(dpkg-query -W -f='${Version}' libjwt0 2>/dev/null) || [ -z "$version" ]; then
    echo "check-libjwt: libjwt0 is not installed (dpkg-query -W libjwt0)" >&2
    exit 1
fi
if dpkg --compare-versions "$version" ge "$floor"; then
    echo "check-libjwt: libjwt0 $version >= $floor"
else
    echo "check-libjwt: libjwt0 $version is older than $floor (CVE-2024-25189): upgrade libjwt0" >&2
    exit 1
fi
