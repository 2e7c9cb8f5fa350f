package client

import (
	"context"
	"encoding/json"
	"net/url"
)

// Contract is a member's contract as GET /api/v1/contracts/{h} answers it.
type Contract struct {
	H        string          `json:"h"`
	Party    int             `json:"party"`
	Member   string          `json:"member"`
	State    string          `json:"state"`
	Round    int             `json:"round"`
	Rounds   int             `json:"rounds"`
	Needs    *ContractNeeds  `json:"needs"`
	Level    *int            `json:"level"`
	Decision string          `json:"decision"`
	Note     string          `json:"note"`
	Contract json.RawMessage `json:"contract"`
}

// ContractNeeds is what a member holding their own key must sign now.
type ContractNeeds struct {
	Round   int  `json:"round"`
	Resolve *int `json:"resolve"`
}

// Contract reads contract h of the logged-in member.
func (c *Client) Contract(ctx context.Context, h string) (Contract, error) {
	var out Contract
	_, err := c.do(ctx, "GET", "/api/v1/contracts/"+url.PathEscape(h), nil, &out)
	return out, err
}

// Promise posts the member's own promise m[round, i] of contract h.
func (c *Client) Promise(ctx context.Context, h string, round int, sig string) (Contract, error) {
	var out Contract
	_, err := c.do(ctx, "POST", "/api/v1/contracts/"+url.PathEscape(h)+"/promises", map[string]any{"round": round, "sig": sig}, &out)
	return out, err
}

// ResolveRequest posts the member's own signature of their resolve request.
func (c *Client) ResolveRequest(ctx context.Context, h, sig string) (Contract, error) {
	var out Contract
	_, err := c.do(ctx, "POST", "/api/v1/contracts/"+url.PathEscape(h)+"/resolve", map[string]any{"sig": sig}, &out)
	return out, err
}
