# shellcheck shell=bash
# Where the project's Apache JMeter lives, for scripts/setup (which fetches it) and
# bench/jmeter/run (which runs it). Sourced, never run; it defines names and starts nothing.
# The version is written once, in scripts/jmeter/pom.xml.

HD_JMETER_POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pom.xml"
HD_JMETER_CACHE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.cache/jmeter"

hd_jmeter_version() {
  sed -n 's:.*<jmeter.version>\(.*\)</jmeter.version>.*:\1:p' "$HD_JMETER_POM"
}

# The installation folder, laid out like the release: bin/ApacheJMeter.jar and the property
# files, lib/ (third-party jars), lib/ext/ (JMeter's own components).
hd_jmeter_home() {
  printf '%s/%s\n' "$HD_JMETER_CACHE" "$(hd_jmeter_version)"
}

# The pom's checksum; `.complete` in the home holds it, so a changed pom means a new fetch.
hd_jmeter_pom_sum() {
  local sum
  sum=$(sha256sum "$HD_JMETER_POM")
  printf '%s\n' "${sum%% *}"
}

# True when the home is whole: `.complete` is written last and names the current pom.
hd_jmeter_present() {
  local home
  home=$(hd_jmeter_home)
  [ -f "$home/.complete" ] && grep -qx "pom $(hd_jmeter_pom_sum)" "$home/.complete"
}
