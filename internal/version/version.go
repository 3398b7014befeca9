// Package version names this build, for the banner, `switchyard version`
// and the User-Agent of outbound requests.
package version

import "runtime/debug"

// Version is set at build time with
// -ldflags "-X github.com/switchyardhq/switchyard/internal/version.Version=v1.2.3";
// otherwise String reads the build info.
var Version = ""

// String names this build: Version, the module version (`go install
// …@v1.2.0`, or the pseudo-version go build derives from the checkout), or
// the VCS revision.
func String() string {
	if Version != "" {
		return Version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	if rev := Setting("vcs.revision"); rev != "" {
		if Setting("vcs.modified") == "true" {
			return "devel-" + rev[:min(12, len(rev))] + "-dirty"
		}
		return "devel-" + rev[:min(12, len(rev))]
	}
	return "(devel)"
}

// Setting returns a build setting (vcs.revision, vcs.time, …), or "".
func Setting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// UserAgent is what outbound requests say they are.
func UserAgent() string { return "Switchyard/" + String() }
