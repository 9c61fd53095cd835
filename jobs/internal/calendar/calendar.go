// Package calendar says which days are business days for close-of-business dates, with the
// holiday calendars of github.com/rickar/cal/v2 (a maintained holiday library): "target2", the
// TARGET2 closing days published by the ECB (New Year's Day, Good Friday, Easter Monday, 1 May,
// 25 and 26 December; package github.com/rickar/cal/v2/ecb), the national bank holidays of a few
// markets ("gb" England and Wales, "de", "us" federal), or "none" (Monday to Friday, no holidays).
//
// A scheduled run asks for the "previous business day": with weekends only, the run after a
// holiday looked for the holiday's data, which Spark never computes, and failed every night.
package calendar

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"
	"github.com/rickar/cal/v2/ecb"
	"github.com/rickar/cal/v2/gb"
	"github.com/rickar/cal/v2/us"
)

// Default is the calendar used when none is configured: the euro area's settlement calendar.
const Default = "target2"

// holidays returns the holiday list of a calendar name; ok is false for an unknown name.
func holidays(name string) (hs []*cal.Holiday, ok bool) {
	switch name {
	case "target2":
		return ecb.Holidays, true
	case "gb":
		return gb.Holidays, true
	case "de":
		return de.Holidays, true
	case "us":
		return us.Holidays, true
	case "none":
		return nil, true
	}
	return nil, false
}

// Names are the calendars New accepts, sorted.
func Names() []string {
	names := []string{"target2", "gb", "de", "us", "none"}
	sort.Strings(names)
	return names
}

// Calendar is a business-day calendar. It is safe for concurrent use once built.
type Calendar struct {
	name string
	bc   *cal.BusinessCalendar
}

// New returns the calendar of a name (see Names); "" means Default.
func New(name string) (*Calendar, error) {
	if name == "" {
		name = Default
	}
	name = strings.ToLower(name)
	hs, ok := holidays(name)
	if !ok {
		return nil, fmt.Errorf("calendar %q: want one of %s", name, strings.Join(Names(), ", "))
	}
	bc := cal.NewBusinessCalendar() // Monday to Friday
	bc.Name = name
	bc.AddHoliday(hs...)
	return &Calendar{name: name, bc: bc}, nil
}

// Name is the calendar's name.
func (c *Calendar) Name() string { return c.name }

// day is the civil date of t as midnight UTC: business days are dates, not instants.
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// IsBusinessDay reports whether the date of t is a business day.
func (c *Calendar) IsBusinessDay(t time.Time) bool { return c.bc.IsWorkday(day(t)) }

// Holiday returns the name of the holiday on the date of t, or "".
func (c *Calendar) Holiday(t time.Time) string {
	_, obs, h := c.bc.IsHoliday(day(t))
	if !obs || h == nil {
		return ""
	}
	return h.Name
}

// Previous returns the last business day strictly before the date of t (midnight UTC).
func (c *Calendar) Previous(t time.Time) time.Time {
	d := day(t).AddDate(0, 0, -1)
	for !c.IsBusinessDay(d) {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// Next returns the first business day strictly after the date of t (midnight UTC).
func (c *Calendar) Next(t time.Time) time.Time {
	d := day(t).AddDate(0, 0, 1)
	for !c.IsBusinessDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}
