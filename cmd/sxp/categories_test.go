package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sxp-network/sxp/migrations/pgtest"
)

func TestCategoriesCommand(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	tests := []struct {
		args []string
		code int
		out  string // the whole standard output, or of standard error when code != 0
	}{
		{[]string{"add", "tools", "Garden tools"}, 0, "added tools (Garden tools)\n"},
		{[]string{"add", "tools", "Tools"}, 1, "sxp categories add: slug: a category with this slug exists\n"},
		{[]string{"add", "Bad Slug", "Bad"}, 1, "sxp categories add: slug: The category's short name must be 1-40 lowercase letters, digits or '-', starting with a letter or digit\n"},
		{[]string{"rename", "tools", "Tools", "--slug", "kit"}, 0, "renamed tools to kit (Tools)\n"},
		{[]string{"delete", "other"}, 0, "deleted other\n"},
		{[]string{"delete", "boats"}, 1, "sxp categories delete: no category \"boats\"\n"},
		{[]string{"list"}, 0, "SLUG       NAME                ACTIVE\nfood       Food                0\ngoods      Goods               0\nhousing    Housing             0\nservices   Services            0\nskills     Skills and lessons  0\nkit        Tools               0\ntransport  Transport           0\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		args := append([]string{"categories"}, tt.args...)
		args = append(args, "--database", db)
		code := run(context.Background(), args, &stdout, &stderr)
		got := stdout.String()
		if tt.code != 0 {
			got = stderr.String()
		}
		if code != tt.code || got != tt.out {
			t.Errorf("sxp %s: got %d %q (stderr %q), want %d %q", strings.Join(tt.args, " "), code, got, stderr.String(), tt.code, tt.out)
		}
	}
}
