package server

import (
	"strings"
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
)

const arbKey = "P0g2SeRwo9JsQga1SUHhiP7HkBd/cxf+VLWmOp23i90="

// TestArbiterSettings: SXP_ARBITER_URL/SXP_ARBITER_KEY are checked, and the
// arbiter is the circle's clearing house unless named.
func TestArbiterSettings(t *testing.T) {
	inCircle := func(c *Config) {
		c.CircleURL, c.CircleID, c.CircleKey, c.Rate = "http://127.0.0.1:8080/", "circle", "secret", "1.5"
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for valid
		ttp    contract.TTP
	}{
		{"none alone", func(c *Config) {}, "", contract.TTP{}},
		{"the circle's", inCircle, "", contract.TTP{URL: "http://127.0.0.1:8080"}},
		{"the circle's, pinned", func(c *Config) { inCircle(c); c.ArbiterKey = arbKey }, "",
			contract.TTP{URL: "http://127.0.0.1:8080", Key: arbKey}},
		{"named", func(c *Config) { inCircle(c); c.ArbiterURL = "https://t.example/" }, "", contract.TTP{URL: "https://t.example"}},
		{"named alone, pinned", func(c *Config) { c.ArbiterURL, c.ArbiterKey = "https://t.example", arbKey }, "",
			contract.TTP{URL: "https://t.example", Key: arbKey}},
		{"bad url", func(c *Config) { c.ArbiterURL = "t.example" }, "SXP_ARBITER_URL", contract.TTP{}},
		{"bad key", func(c *Config) { c.ArbiterURL, c.ArbiterKey = "https://t.example", "AAAA" }, "SXP_ARBITER_KEY", contract.TTP{}},
		{"key without url", func(c *Config) { c.ArbiterKey = arbKey }, "needs its URL", contract.TTP{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				if got := c.TTP(); got != tt.ttp {
					t.Errorf("TTP: got %+v, want %+v", got, tt.ttp)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
