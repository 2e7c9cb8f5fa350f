package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sxp-network/sxp/server/contracts"
)

// Contracts (design.md, "Deals and contracts"): a member's signed (or
// signing) contracts, the promises they sign themselves when they hold
// their own key, cancel, the bundle of proofs, and item legs confirmed by
// their receivers; and the promises other parties' servers send
// (POST /federation/v1/contracts/{h}/promises, signed).

// myContracts: GET /api/v1/contracts, the member's contracts (an admin's:
// every contract here).
func (h *Handlers) myContracts(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	m := currentMember(c)
	list, err := h.Contracts.List(c.Request.Context(), m.Username, m.IsAdmin())
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"contracts": list})
}

// contractOf: GET /api/v1/contracts/{h}: state, round, what the member must
// sign, evidence held, legs.
func (h *Handlers) contractOf(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	m := currentMember(c)
	v, err := h.Contracts.Get(c.Request.Context(), m.Username, m.IsAdmin(), c.Param("h"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// memberPromise: POST /api/v1/contracts/{h}/promises {"round","sig"}: the
// member's own promise m[round, i] (own key).
func (h *Handlers) memberPromise(c *gin.Context) {
	if !h.hasContracts(c) || !h.isPartyOf(c) {
		return
	}
	var b struct {
		Round int    `json:"round"`
		Sig   string `json:"sig"`
	}
	if !bindJSON(c, &b) {
		return
	}
	h.actOnContract(c, func(ctx context.Context, member, hash string) error {
		return h.Contracts.MemberPromise(ctx, member, hash, b.Round, b.Sig)
	})
}

// memberResolve: POST /api/v1/contracts/{h}/resolve {"sig"}: the member's
// own signature of their resolve request (own key).
func (h *Handlers) memberResolve(c *gin.Context) {
	if !h.hasContracts(c) || !h.isPartyOf(c) {
		return
	}
	var b struct {
		Sig string `json:"sig"`
	}
	if !bindJSON(c, &b) {
		return
	}
	h.actOnContract(c, func(ctx context.Context, member, hash string) error {
		return h.Contracts.MemberResolve(ctx, member, hash, b.Sig)
	})
}

// cancelContract: POST /api/v1/contracts/{h}/cancel: resolve with T now.
func (h *Handlers) cancelContract(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	v, err := h.Contracts.Cancel(c.Request.Context(), currentMember(c).Username, c.Param("h"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// contractBundle: GET /api/v1/contracts/{h}/bundle: {"contract","promises","token"},
// the file 'sxp contract verify' checks.
func (h *Handlers) contractBundle(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	m := currentMember(c)
	b, err := h.Contracts.Bundle(c.Request.Context(), m.Username, m.IsAdmin(), c.Param("h"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="contract-`+c.Param("h")[:min(16, len(c.Param("h")))]+`.json"`)
	c.JSON(http.StatusOK, b)
}

// confirmLeg: POST /api/v1/contracts/{h}/legs/{leg}/confirm: the receiver
// has the item.
func (h *Handlers) confirmLeg(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	leg, err := strconv.Atoi(c.Param("leg"))
	if err != nil {
		h.fail(c, &contracts.Error{Code: contracts.CodeNotFound, Message: "no leg " + c.Param("leg")})
		return
	}
	h.actOnContract(c, func(ctx context.Context, member, hash string) error {
		return h.Contracts.ConfirmItem(ctx, member, hash, leg)
	})
}

// receivePromise: POST /federation/v1/contracts/{h}/promises
// {"party","round","sig"}, signed by party's home server.
func (h *Handlers) receivePromise(c *gin.Context) {
	if !h.hasContracts(c) {
		return
	}
	var b struct {
		Party *int   `json:"party"`
		Round *int   `json:"round"`
		Sig   string `json:"sig"`
	}
	if !decodeFederation(c, &b) {
		return
	}
	if b.Party == nil || b.Round == nil || b.Sig == "" {
		badRequest(c, "", "party, round and sig are required")
		return
	}
	stored, err := h.Contracts.ReceivePromise(c.Request.Context(), verifiedPeer(c).BaseURL, c.Param("h"), *b.Party, *b.Round, b.Sig)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"stored": stored})
}

// isPartyOf answers 404 unless the member is a party of contract {h} here,
// before the body is read.
func (h *Handlers) isPartyOf(c *gin.Context) bool {
	if _, err := h.Contracts.Get(c.Request.Context(), currentMember(c).Username, false, c.Param("h")); err != nil {
		h.fail(c, err)
		return false
	}
	return true
}

// hasContracts answers 404 when this server keeps no contracts.
func (h *Handlers) hasContracts(c *gin.Context) bool {
	if h.Contracts == nil {
		h.notFound(c)
		return false
	}
	return true
}

// actOnContract runs the member's act on contract {h}, then answers the
// contract as the member sees it.
func (h *Handlers) actOnContract(c *gin.Context, act func(ctx context.Context, member, hash string) error) {
	m := currentMember(c)
	if err := act(c.Request.Context(), m.Username, c.Param("h")); err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.Contracts.Get(c.Request.Context(), m.Username, false, c.Param("h"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
