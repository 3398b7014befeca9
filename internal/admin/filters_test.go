package admin

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
)

// The list filters read what the management API documents and refuse
// the rest with an invalid error naming the parameter.
func TestEventFilter(t *testing.T) {
	r := httptest.NewRequest("GET", "/admin/v1/events?source=web&type=purchase&profile_id=p&session_id=s&limit=20&since=2026-11-23T10:00&cursor=c", nil)
	f, err := eventFilter(r)
	want := cdp.EventFilter{SourceID: "web", Type: "purchase", ProfileID: "p", SessionID: "s", Limit: 20, Cursor: "c",
		Since: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	if err != nil || f != want {
		t.Fatalf("filter %+v, %v; want %+v", f, err, want)
	}
	for query, param := range map[string]string{"limit=0": "limit", "limit=1001": "limit", "limit=x": "limit", "since=yesterday": "since"} {
		_, err := eventFilter(httptest.NewRequest("GET", "/admin/v1/events?"+query, nil))
		if cdp.ErrorCode(err) != cdp.EINVALID || !strings.HasPrefix(cdp.ErrorMessage(err), param+" must be") {
			t.Errorf("%s: %v", query, err)
		}
	}
	for s, want := range map[string]time.Time{
		"2026-11-23T10:00:00+01:00": time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		"1700000000":                time.Unix(1700000000, 0),
		"2026-11-23":                time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := ParseTime("since", s); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}
