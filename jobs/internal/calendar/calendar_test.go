package calendar

import (
	"strings"
	"testing"
	"time"
)

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TARGET2 closing days: New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26 December
// (ECB, "TARGET2 closing days"; encoded in github.com/rickar/cal/v2/ecb v2.1.32, ecb_holidays.go).
// Easter Sundays: 2024-03-31, 2025-04-20, 2026-04-05, 2027-03-28.
func TestTarget2ClosingDays(t *testing.T) {
	c, err := New("target2")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		day      string
		business bool
		holiday  string
	}{
		{"2024-03-28", true, ""}, // Maundy Thursday is open
		{"2024-03-29", false, "Good Friday"},
		{"2024-04-01", false, "Easter Monday"},
		{"2024-04-02", true, ""},
		{"2025-04-17", true, ""},
		{"2025-04-18", false, "Good Friday"},
		{"2025-04-21", false, "Easter Monday"},
		{"2025-05-01", false, "Labour Day"},
		{"2025-05-02", true, ""},
		{"2025-12-24", true, ""},
		{"2025-12-25", false, "Christmas Day"},
		{"2025-12-26", false, "Christmas Holiday"},
		{"2026-01-01", false, "New Year's Day"},
		{"2026-01-02", true, ""},
		{"2026-04-02", true, ""},
		{"2026-04-03", false, "Good Friday"},
		{"2026-04-06", false, "Easter Monday"},
		{"2026-04-07", true, ""},
		{"2026-05-01", false, "Labour Day"},
		{"2026-12-25", false, "Christmas Day"},
		{"2027-01-01", false, "New Year's Day"},
		{"2027-03-26", false, "Good Friday"},
		{"2027-03-29", false, "Easter Monday"},
		{"2027-12-27", true, ""},  // Monday after a weekend Christmas: TARGET2 has no substitute days
		{"2026-03-07", false, ""}, // Saturday
		{"2026-03-08", false, ""}, // Sunday
	} {
		d := date(t, tc.day)
		if got := c.IsBusinessDay(d); got != tc.business {
			t.Errorf("%s (%s): business day %v, want %v", tc.day, d.Weekday(), got, tc.business)
		}
		if got := c.Holiday(d); got != tc.holiday {
			t.Errorf("%s: holiday %q, want %q", tc.day, got, tc.holiday)
		}
	}
}

// TestPreviousBusinessDay is what a scheduled run asks for: the run the morning after a holiday
// must publish the last open day, not the holiday (with weekends only, "none", it asked for the
// holiday's data, which Spark never computes, and exited 4 every night).
func TestPreviousBusinessDay(t *testing.T) {
	for _, tc := range []struct {
		calendar, today, want string
	}{
		{"target2", "2026-04-07", "2026-04-02"}, // Tuesday after Easter Monday -> Maundy Thursday
		{"target2", "2026-04-06", "2026-04-02"},
		{"target2", "2025-05-02", "2025-04-30"}, // Friday after 1 May
		{"target2", "2026-05-04", "2026-04-30"}, // Monday after a Friday 1 May
		{"target2", "2025-12-29", "2025-12-24"}, // Monday after 25/26 Dec (Thu/Fri)
		{"target2", "2026-01-02", "2025-12-31"},
		{"target2", "2024-01-02", "2023-12-29"},
		{"target2", "2027-03-30", "2027-03-25"},
		{"target2", "2026-03-03", "2026-03-02"},
		{"target2", "2026-03-02", "2026-02-27"},
		{"none", "2026-04-07", "2026-04-06"}, // the old behaviour: Easter Monday
		{"gb", "2026-05-05", "2026-05-01"},   // early May bank holiday is Monday 4 May 2026
		{"us", "2026-07-06", "2026-07-02"},   // 4 July 2026 is a Saturday, observed Friday 3 July
		{"", "2026-04-07", "2026-04-02"},     // default: target2
	} {
		c, err := New(tc.calendar)
		if err != nil {
			t.Fatal(err)
		}
		// A time late in the day must not change the answer.
		today := date(t, tc.today).Add(23*time.Hour + 59*time.Minute)
		if got := c.Previous(today).Format(time.DateOnly); got != tc.want {
			t.Errorf("%s: previous business day before %s = %s, want %s", tc.calendar, tc.today, got, tc.want)
		}
	}
}

func TestNextBusinessDay(t *testing.T) {
	c, _ := New("target2")
	for today, want := range map[string]string{
		"2026-04-02": "2026-04-07",
		"2025-12-24": "2025-12-29",
		"2025-12-31": "2026-01-02",
		"2026-04-30": "2026-05-04",
	} {
		if got := c.Next(date(t, today)).Format(time.DateOnly); got != want {
			t.Errorf("next business day after %s = %s, want %s", today, got, want)
		}
	}
}

func TestUnknownCalendar(t *testing.T) {
	_, err := New("target3")
	if err == nil || !strings.Contains(err.Error(), `calendar "target3"`) || !strings.Contains(err.Error(), "target2") {
		t.Fatalf("got %v", err)
	}
	for _, n := range Names() {
		if _, err := New(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}
