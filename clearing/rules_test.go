package clearing

import (
	"math"
	"testing"
	"time"
)

func TestParseAndFormatAmount(t *testing.T) {
	tests := []struct {
		in      string
		div     int
		want    int64
		wantErr bool
	}{
		{"-1000", 2, -100000, false},
		{"-1000.00", 2, -100000, false},
		{"12.5", 2, 1250, false},
		{"12.50", 2, 1250, false},
		{"0.001", 2, 0, true},
		{"1.230", 2, 123, false},
		{"+1", 2, 0, true}, // money's plain spelling: no '+', no spaces, no leading zeros
		{" 1", 2, 0, true},
		{"007", 2, 0, true},
		{"7", 0, 7, false},
		{"7.5", 0, 0, true},
		{"abc", 2, 0, true},
		{"1e3", 2, 0, true},
		{"", 2, 0, true},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.div)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAmount(%q, %d) = %d, %v; want %d, err=%v", tt.in, tt.div, got, err, tt.want, tt.wantErr)
		}
	}
	for _, tt := range []struct {
		v    int64
		div  int
		want string
	}{{-100000, 2, "-1000.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {7, 0, "7"}, {123456, 3, "123.456"}, {0, 2, "0.00"},
		{math.MinInt64, 2, "-92233720368547758.08"}, {math.MaxInt64, 0, "9223372036854775807"}} {
		if got := FormatAmount(tt.v, tt.div); got != tt.want {
			t.Errorf("FormatAmount(%d, %d) = %q, want %q", tt.v, tt.div, got, tt.want)
		}
	}
}

func TestParseTicks(t *testing.T) {
	for _, tt := range []struct{ in, want string }{{"1", "1"}, {"2.50", "2.5"}, {"0.1", "0.1"}, {"1.000", "1"}, {"0.000000000001", "0.000000000001"}} {
		got, err := ParseTicks(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTicks(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"0", "0.0", "-1", "", "1e3", "abc", "007", " 1", "0.0000000000001"} {
		if got, err := ParseTicks(bad); err == nil {
			t.Errorf("ParseTicks(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRatioExceeded(t *testing.T) {
	tests := []struct {
		name            string
		balance, volume int64
		pct             string
		want            bool
	}{
		{"no volume", -500, 0, "50", false},
		{"credit side", 900, 1000, "50", false},
		{"at the bound", -500, 1000, "50", false},
		{"over the bound", -501, 1000, "50", true},
		{"fractional percent", -126, 1000, "12.5", true},
		{"fractional at bound", -125, 1000, "12.5", false},
	}
	for _, tt := range tests {
		if got := RatioExceeded(tt.balance, tt.volume, tt.pct); got != tt.want {
			t.Errorf("%s: RatioExceeded(%d, %d, %s) = %v, want %v", tt.name, tt.balance, tt.volume, tt.pct, got, tt.want)
		}
	}
}

func TestFloatTicks(t *testing.T) {
	tests := []struct {
		name              string
		ticks             string
		balance, min, max int64
		band, step, want  string
		moved             bool
	}{
		{"inside band", "1", -400, -1000, 1000, "50", "1", "1", false},
		{"owes beyond band: down", "1", -600, -1000, 1000, "50", "1", "0.99", true},
		{"owed beyond band: up", "2", 600, -1000, 1000, "50", "10", "2.2", true},
		{"rounds to 6 places", "1.234567", 900, -1000, 1000, "50", "1", "1.246913", true},
	}
	for _, tt := range tests {
		got, moved := FloatTicks(tt.ticks, tt.balance, tt.min, tt.max, tt.band, tt.step)
		if got != tt.want || moved != tt.moved {
			t.Errorf("%s: got %s moved=%v, want %s moved=%v", tt.name, got, moved, tt.want, tt.moved)
		}
	}
}

func TestLimitsFor(t *testing.T) {
	tests := []struct {
		name             string
		p                Policy
		traders, volume  int64
		wantMin, wantMax int64
		wantOK           bool
	}{
		{"explicit", Policy{LimitPolicy: LimitExplicit}, 10, 1000, 0, 0, false},
		{"per member", Policy{LimitPolicy: LimitPerMember, LimitPerMember: 500}, 12, 0, -6000, 6000, true},
		{"per member floor", Policy{LimitPolicy: LimitPerMember, LimitPerMember: 500, LimitFloor: 10000}, 12, 0, -10000, 10000, true},
		{"volume percent", Policy{LimitPolicy: LimitVolumePercent, LimitPercent: "12.5"}, 0, 10001, -1250, 1250, true},
	}
	for _, tt := range tests {
		min, max, ok := LimitsFor(tt.p, tt.traders, tt.volume)
		if min != tt.wantMin || max != tt.wantMax || ok != tt.wantOK {
			t.Errorf("%s: got %d..%d ok=%v, want %d..%d ok=%v", tt.name, min, max, ok, tt.wantMin, tt.wantMax, tt.wantOK)
		}
	}
}

func TestMonitorRules(t *testing.T) {
	for _, tt := range []struct {
		balance, min, max, pct int64
		want                   bool
	}{{-901, -1000, 1000, 90, true}, {-900, -1000, 1000, 90, false}, {950, -1000, 1000, 90, true}, {0, 0, 0, 90, false}} {
		if got := NearLimit(tt.balance, tt.min, tt.max, tt.pct); got != tt.want {
			t.Errorf("NearLimit(%d, %d, %d, %d) = %v, want %v", tt.balance, tt.min, tt.max, tt.pct, got, tt.want)
		}
	}
	day, month := 24*time.Hour, 30*24*time.Hour
	for _, tt := range []struct {
		recent, base int64
		want         bool
	}{{4, 0, false}, {5, 0, true}, {10, 99, true}, {10, 100, false}, {10, 300, false}} {
		if got := Spike(tt.recent, tt.base, day, month, 3, 5); got != tt.want {
			t.Errorf("Spike(%d, %d) = %v, want %v", tt.recent, tt.base, got, tt.want)
		}
	}
	yes, no := true, false
	bal := int64(-300)
	other := int64(299)
	for _, tt := range []struct {
		bal  *int64
		ok   *bool
		vc   int64
		want bool
	}{{&bal, &yes, 300, true}, {&other, &yes, 300, false}, {&bal, &no, 300, false}, {nil, nil, 300, true}} {
		if got := IntegrityOK(tt.bal, tt.ok, tt.vc); got != tt.want {
			t.Errorf("IntegrityOK(%v, %v, %d) = %v, want %v", tt.bal, tt.ok, tt.vc, got, tt.want)
		}
	}
}

// TestIntegrityState: "ok" only when the community's last report is minus
// the virtual customer's balance as it is now; a report that was right when
// it was made but older than the balance is "unknown (data from …)", never
// "ok" next to numbers that do not agree.
func TestIntegrityState(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	yes, no := true, false
	r := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		balance  int64
		reported *int64
		ok       *bool
		want     string
	}{
		{"no report", 2200, nil, nil, "unknown (no report yet)"},
		{"agrees", 2200, r(-2200), &yes, "ok"},
		{"moved since", 2200, r(-1000), &yes, "unknown (data from 2026-03-01 12:00 UTC)"},
		{"mismatch", 2200, r(-1000), &no, "mismatch"},
		{"failed its own check", 2200, r(-2200), &no, "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Community{Balance: tt.balance, ReportedBalance: tt.reported, IntegrityOK: tt.ok}
			if tt.reported != nil {
				c.ReportedAt = &at
			}
			if got := IntegrityState(c); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
