package intertrade

import (
	"testing"

	"github.com/sxp-network/sxp/clearing/cxp"
)

// TestReceived: what a payee received is the circle's base quantity at
// their rate, truncated toward zero to their currency's places.
func TestReceived(t *testing.T) {
	for _, tt := range []struct {
		name     string
		quantity cxp.Decimal
		ticks    cxp.Decimal
		div      int
		want     int64
		ok       bool
	}{
		{"exact", "10.00", "2", 2, 500, true},
		{"truncated, not rounded", "10.00", "3", 2, 333, true},
		{"truncated up close", "0.02", "3", 2, 0, true},
		{"no decimals", "10.00", "3", 0, 3, true},
		{"finer base", "1.005", "0.5", 2, 201, true},
		{"rate not told", "10.00", "", 2, 0, false},
		{"no quantity", "", "2", 2, 0, false},
		{"bad quantity", "ten", "2", 2, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Received(Payment{Quantity: tt.quantity, PayeeTicks: tt.ticks}, tt.div)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %d %v, want %d %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
