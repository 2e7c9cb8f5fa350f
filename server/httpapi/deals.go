package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/clearing/cxp/contract"
	"github.com/sxp-network/sxp/server/deals"
)

// Rounds and proposals (the admin's): POST /api/v1/admin/deals/rounds runs a
// round; GET /api/v1/admin/deals/proposals lists every proposal here.

type proposalJSON struct {
	H        string            `json:"h"`
	State    string            `json:"state"`
	Deadline time.Time         `json:"deadline"`
	Contract contract.Contract `json:"contract"`
}

type roundJSON struct {
	Round          int64          `json:"round"`
	UnfundedOffers int            `json:"unfunded_offers"`
	UnfundedLoops  int            `json:"unfunded_loops"`
	WantLists      int            `json:"wantlists"`
	Loops          [][]string     `json:"loops"`
	Trades         int            `json:"trades"`
	Proposals      []proposalJSON `json:"proposals"`
	ElapsedMS      int64          `json:"elapsed_ms"`
}

func proposalOut(p deals.Proposal) proposalJSON {
	return proposalJSON{H: p.H, State: p.State, Deadline: p.Deadline.UTC(), Contract: p.Contract}
}

// roundOptions checks a round's caps as given.
func roundOptions(maxLoop, maxCommunities int) (deals.Options, *fieldError) {
	if maxLoop == 0 {
		maxLoop = deals.DefaultMaxLoop
	}
	if maxLoop < 2 || maxLoop > 100 {
		return deals.Options{}, &fieldError{"max_loop", "max_loop must be between 2 and 100"}
	}
	if maxCommunities < 0 {
		return deals.Options{}, &fieldError{"max_communities", "max_communities must not be negative (0: no cap)"}
	}
	return deals.Options{MaxLoop: maxLoop, MaxCommunities: maxCommunities}, nil
}

// adminRound: POST /api/v1/admin/deals/rounds {"max_loop"?, "max_communities"?}.
func (h *Handlers) adminRound(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	var b struct {
		MaxLoop        int `json:"max_loop"`
		MaxCommunities int `json:"max_communities"`
	}
	if c.Request.ContentLength != 0 && !bindJSON(c, &b) {
		return
	}
	opt, fe := roundOptions(b.MaxLoop, b.MaxCommunities)
	if fe != nil {
		badRequest(c, fe.field, fe.message)
		return
	}
	opt.By = "api " + currentMember(c).Username
	res, err := h.Deals.Round(c.Request.Context(), opt)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := roundJSON{Round: res.Round, UnfundedOffers: res.UnfundedOffers, UnfundedLoops: res.UnfundedLoops, WantLists: res.WantLists, Loops: res.Loops, Trades: res.Trades, ElapsedMS: res.Elapsed.Milliseconds(),
		Proposals: make([]proposalJSON, len(res.Proposals))}
	if out.Loops == nil {
		out.Loops = [][]string{}
	}
	for i, p := range res.Proposals {
		out.Proposals[i] = proposalOut(p)
	}
	c.JSON(http.StatusOK, out)
}

// adminProposals: GET /api/v1/admin/deals/proposals.
func (h *Handlers) adminProposals(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	list, err := h.Deals.Proposals(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]proposalJSON, len(list))
	for i, p := range list {
		out[i] = proposalOut(p)
	}
	c.JSON(http.StatusOK, gin.H{"proposals": out})
}

// dealsData is the admin's deals page.
type dealsData struct {
	Proposals []deals.Proposal
	Running   *roundRow // the round in progress, if any
	Rounds    []roundRow
}

// roundRow is a round on the admin page, its progress in words.
type roundRow struct {
	deals.RoundStatus
	Summary string
}

// roundSummary says where a round is: its phase with counts, or how it ended.
func roundSummary(st deals.RoundStatus) string {
	switch st.Phase {
	case deals.PhaseGather:
		return "reading want lists…"
	case deals.PhaseSolve:
		if st.Step != "" {
			return fmt.Sprintf("finding loops in %d want lists (%s)…", st.WantLists, st.Step)
		}
		return fmt.Sprintf("finding loops in %d want lists…", st.WantLists)
	case deals.PhasePropose:
		return fmt.Sprintf("proposing: %d of %d loops stored", st.Proposed, st.Loops)
	case deals.PhaseFailed:
		return "failed: " + st.Error
	}
	if st.Proposed == 0 && st.Loops > 0 {
		return fmt.Sprintf("found %s in %d want lists, proposed none: their payers cannot pay them within their limits", plural(st.Loops, "loop"), st.WantLists)
	}
	if st.Proposed == 0 {
		return fmt.Sprintf("found nothing in %d want lists", st.WantLists)
	}
	s := fmt.Sprintf("%s, %d trades, from %d want lists", plural(st.Proposed, "loop"), st.Trades, st.WantLists)
	if st.UnfundedOffers+st.UnfundedLoops > 0 {
		s += fmt.Sprintf(" (left out for members' limits: %s, %s)", plural(st.UnfundedOffers, "money offer"), plural(st.UnfundedLoops, "loop"))
	}
	return s
}

// adminDealsPage: GET /admin/deals, the proposals, the round in progress,
// the last rounds, and a round button.
func (h *Handlers) adminDealsPage(c *gin.Context) {
	h.showDeals(c, h.newPage(c, h.tr(c, "title.deals")))
}

func (h *Handlers) showDeals(c *gin.Context, p page) {
	if h.Deals == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_market"))
		return
	}
	list, err := h.Deals.Proposals(c.Request.Context())
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	rounds, err := h.Deals.Rounds(c.Request.Context(), 10)
	if err != nil {
		h.pageError(c, h.pageRefusal(c, &p, err), p.Error)
		return
	}
	d := dealsData{Proposals: list}
	for _, st := range rounds {
		d.Rounds = append(d.Rounds, roundRow{st, roundSummary(st)})
	}
	if len(d.Rounds) > 0 && d.Rounds[0].Running() {
		d.Running = &d.Rounds[0]
	}
	p.Data = d
	h.render(c, http.StatusOK, "admin_deals.html", p)
}

// adminRoundForm: POST /admin/deals/round {max_loop, max_communities}
// starts a round in the background; the page shows its progress.
func (h *Handlers) adminRoundForm(c *gin.Context) {
	p := h.newPage(c, h.tr(c, "title.deals"))
	if h.Deals == nil {
		h.pageError(c, http.StatusNotFound, h.tr(c, "error.no_market"))
		return
	}
	var maxLoop, maxComm int
	_, _ = fmtSscan(c.PostForm("max_loop"), &maxLoop)
	_, _ = fmtSscan(c.PostForm("max_communities"), &maxComm)
	opt, fe := roundOptions(maxLoop, maxComm)
	if fe != nil {
		p.Error, p.Field = fe.message, fe.field
		h.showDeals(c, p)
		return
	}
	opt.By = "admin " + currentMember(c).Username
	if err := h.Deals.Start(opt); err != nil {
		h.pageRefusal(c, &p, err)
		h.showDeals(c, p)
		return
	}
	p.Notice = h.tr(c, "notice.round_started")
	h.showDeals(c, p)
}

// fmtSscan reads an optional integer form field ("" leaves v alone).
func fmtSscan(s string, v *int) (int, error) {
	if s == "" {
		return 0, nil
	}
	return fmt.Sscan(s, v)
}

// receiveContract: POST /federation/v1/contracts {"contract": C}, signed by
// the proposer's server: a proposal naming a member of this server.
func (h *Handlers) receiveContract(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	var body struct {
		Contract json.RawMessage `json:"contract"`
	}
	if !decodeFederation(c, &body) {
		return
	}
	if len(body.Contract) == 0 {
		badRequest(c, "contract", "contract is required: the sxp-contract/1 contract C")
		return
	}
	hash, err := h.Deals.Receive(c.Request.Context(), verifiedPeer(c).BaseURL, body.Contract)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"h": hash, "state": "proposed"})
}

// myProposals: GET /api/v1/proposals, the proposals naming the member.
func (h *Handlers) myProposals(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	list, err := h.Deals.MemberProposals(c.Request.Context(), currentMember(c).Username)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]proposalJSON, len(list))
	for i, p := range list {
		out[i] = proposalOut(p)
	}
	c.JSON(http.StatusOK, gin.H{"proposals": out})
}

// answerProposal: POST /api/v1/proposals/{h}/accept|decline, by a party.
func (h *Handlers) answerProposal(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	p, err := h.Deals.Answer(c.Request.Context(), currentMember(c).Username, c.Param("h"), c.Param("answer"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.wakeContracts(p.State)
	c.JSON(http.StatusOK, proposalOut(p))
}

// toldProposal: POST /federation/v1/contracts/{h}/accept|decline
// {"members": [user@community…]}, signed by those members' server (an
// extension of sxp-fed/1: a party's answer reaches the other parties).
func (h *Handlers) toldProposal(c *gin.Context) {
	if h.Deals == nil {
		h.notFound(c)
		return
	}
	var body struct {
		Members []string `json:"members"`
	}
	if !decodeFederation(c, &body) {
		return
	}
	if len(body.Members) == 0 || len(body.Members) > 100 {
		badRequest(c, "members", "members is required: the answering parties (1 to 100)")
		return
	}
	p, err := h.Deals.Told(c.Request.Context(), verifiedPeer(c).BaseURL, c.Param("h"), body.Members, c.Param("answer"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.wakeContracts(p.State)
	c.JSON(http.StatusOK, gin.H{"h": p.H, "state": p.State})
}

// wakeContracts starts signing at once when a proposal became ready.
func (h *Handlers) wakeContracts(state string) {
	if h.Contracts != nil && state == "ready" {
		h.Contracts.Wake()
	}
}

// plural is "1 loop", "2 loops".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
