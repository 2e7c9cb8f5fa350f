package server

import (
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{
		DatabaseURL: "postgres://x@127.0.0.1/leaf", Listen: "127.0.0.1:8081",
		CommunityID: "leaf", CommunityName: "Leaf Valley", Currency: "LEAF", CurrencyDivisions: 2,
		PublicURL: "http://127.0.0.1:8081", DefaultMin: "-100", DefaultMax: "1000", Registration: "open",
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // substring of the error; "" for valid
	}{
		{"valid alone", func(c *Config) {}, ""},
		{"valid in a circle", func(c *Config) {
			c.CircleURL, c.CircleID, c.CircleKey, c.Rate = "http://127.0.0.1:8080", "circle", "secret", "1.5"
		}, ""},
		{"no database", func(c *Config) { c.DatabaseURL = "" }, "DATABASE_URL"},
		{"no listen", func(c *Config) { c.Listen = "" }, "--listen"},
		{"bad community id", func(c *Config) { c.CommunityID = "Leaf Valley" }, "SXP_COMMUNITY_ID"},
		{"community id with @", func(c *Config) { c.CommunityID = "a@b" }, "SXP_COMMUNITY_ID"},
		{"no name", func(c *Config) { c.CommunityName = " " }, "SXP_COMMUNITY_NAME"},
		{"lowercase currency", func(c *Config) { c.Currency = "leaf" }, "SXP_CURRENCY "},
		{"divisions too many", func(c *Config) { c.CurrencyDivisions = 9 }, "SXP_CURRENCY_DIVISIONS"},
		{"divisions negative", func(c *Config) { c.CurrencyDivisions = -1 }, "SXP_CURRENCY_DIVISIONS"},
		{"public url relative", func(c *Config) { c.PublicURL = "/leaf" }, "SXP_PUBLIC_URL"},
		{"public url missing", func(c *Config) { c.PublicURL = "" }, "SXP_PUBLIC_URL"},
		{"min positive", func(c *Config) { c.DefaultMin = "5" }, "SXP_DEFAULT_MIN"},
		{"min not a number", func(c *Config) { c.DefaultMin = "-1e3" }, "SXP_DEFAULT_MIN"},
		{"min too precise", func(c *Config) { c.DefaultMin = "-1.001" }, "SXP_DEFAULT_MIN"},
		{"max negative", func(c *Config) { c.DefaultMax = "-1" }, "SXP_DEFAULT_MAX"},
		{"registration", func(c *Config) { c.Registration = "closed" }, "SXP_REGISTRATION"},
		{"circle url only", func(c *Config) { c.CircleURL = "http://127.0.0.1:8080" }, "SXP_CIRCLE_ID"},
		{"circle url bad", func(c *Config) {
			c.CircleURL, c.CircleID, c.CircleKey, c.Rate = "ftp://x", "circle", "secret", "1"
		}, "SXP_CIRCLE_URL"},
		{"circle without key", func(c *Config) {
			c.CircleURL, c.CircleID, c.Rate = "http://127.0.0.1:8080", "circle", "1"
		}, "SXP_CIRCLE_KEY"},
		{"rate zero", func(c *Config) {
			c.CircleURL, c.CircleID, c.CircleKey, c.Rate = "http://127.0.0.1:8080", "circle", "secret", "0"
		}, "SXP_RATE"},
		{"rate missing", func(c *Config) {
			c.CircleURL, c.CircleID, c.CircleKey = "http://127.0.0.1:8080", "circle", "secret"
		}, "SXP_RATE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestConfigLimits(t *testing.T) {
	c := validConfig()
	c.DefaultMin, c.DefaultMax = "-100.50", "1000"
	min, max, err := c.Limits()
	if err != nil || min != -10050 || max != 100000 {
		t.Fatalf("got %d, %d, %v; want -10050, 100000, nil", min, max, err)
	}
}
