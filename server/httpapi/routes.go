package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/sxp-network/sxp/server/intertrade"
)

// Engine builds the gin engine with every route of the community server:
// the one route table. API routes answer JSON under /api/v1 (handlers in
// admin.go, members.go, payments.go, announcements.go, intertrade.go); pages
// answer HTML (handlers in *_pages.go); PUT /transactions answers CXP
// (relay.go). auth = Bearer token or session cookie; admin = auth + admin role.
func (h *Handlers) Engine() *gin.Engine {
	h.loadPages()
	if h.Intertrade == nil {
		h.Intertrade = intertrade.Alone{} // the community runs alone
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.SetTrustedProxies(nil) // ClientIP is the peer address: X-Forwarded-For must not dodge the log-in slowdown
	r.Use(gin.Recovery(), securityHeaders, h.logRequests, h.limitBody, h.authenticate)
	r.NoRoute(h.notFound)
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take "+c.Request.Method, "")
	})

	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	r.GET(metricsPath, h.serveMetrics) // Prometheus text format; bearer metrics token when set
	// The installable app (pwa.go): manifest and icons, public.
	r.GET("/manifest.webmanifest", h.manifest)
	r.GET("/icons/:file", h.icon) // icon-192.png, icon-512.png
	r.GET("/apple-touch-icon.png", h.icon)

	// CXP (relay.go): a relay from the circle, signed by it, answered in CXP.
	r.PUT("/transactions", h.verifyRelay, h.receiveRelay)

	// The JSON API (admin.go, members.go, payments.go, announcements.go,
	// intertrade.go; errors in errors.go's one table).
	api := r.Group("/api/v1")
	api.POST("/members", h.register)     // {"username","password","display_name"}
	api.POST("/session", h.login)        // {"username","password"} → {"token"}
	me := api.Group("", h.requireMember) // auth
	me.DELETE("/session", h.logout)
	me.GET("/me", h.me)
	me.PATCH("/me", h.updateProfile)         // {"display_name","bio","contact"}
	me.PUT("/me/public-key", h.setPublicKey) // {"public_key": base64 Ed25519}
	me.PUT("/me/password", h.changePassword) // {"current_password","new_password"}
	me.GET("/me/account", h.account)         // {"balance","currency","min","max"}
	me.GET("/me/statement", h.statement)     // ?from&to&q&after&limit[&format=csv]
	me.GET("/members", h.directory)          // ?q&limit: active members' public profiles
	me.GET("/members/:username", h.member)   // public profile
	me.POST("/payments", h.pay)              // {"to","amount","description","idempotency_key"}
	me.GET("/quote", h.quote)                // ?payee&amount: what a payment would do, before paying
	me.GET("/payment-requests", h.requests)  // ?role=payer|payee&status=
	me.POST("/payment-requests", h.createRequest)
	me.GET("/payment-requests/:id", h.request)
	me.POST("/payment-requests/:id/accept", h.acceptRequest)
	me.POST("/payment-requests/:id/reject", h.rejectRequest)
	me.POST("/payment-requests/:id/cancel", h.cancelRequest)
	// e-mail routes (mail.go; 404 mail_off without SMTP settings, except GET /me/email)
	api.POST("/email/verify", h.requireMail, h.verifyEmail)             // {"token"} → {"username"}
	api.POST("/password-reset", h.requireMail, h.requestPasswordReset)  // {"email"} → 202, whoever it is
	api.POST("/password-reset/confirm", h.requireMail, h.resetPassword) // {"token","new_password"} → 204
	me.GET("/me/email", h.myEmail)                                      // {"enabled","address","verified","notices"}
	me.PUT("/me/email", h.requireMail, h.setMyEmail)                    // {"address"} → 202, a link sent to it
	me.DELETE("/me/email", h.requireMail, h.deleteMyEmail)
	me.PUT("/me/notices", h.requireMail, h.setMyNotices) // {"payment": false, …}
	admin := me.Group("/admin", h.requireAdmin)          // admin
	admin.GET("/mail", h.adminMail)                      // the outbox: {"enabled","pending","sent","failed","failures"}
	admin.GET("/members", h.adminMembers)                // ?status=pending|active|blocked
	admin.GET("/members/:username", h.adminMember)
	admin.POST("/members/:username/approve", h.adminApprove)
	admin.POST("/members/:username/block", h.adminBlock)
	admin.POST("/members/:username/unblock", h.adminUnblock)
	admin.POST("/members/:username/unlock", h.adminUnlock) // forget failed log-ins (lift the throttle)
	admin.PUT("/members/:username/limits", h.adminLimits)  // {"min","max"}
	admin.PUT("/members/:username/role", h.adminRole)      // {"role":"member|admin"}
	admin.GET("/members/:username/statement", h.adminStatement)
	admin.POST("/members/:username/password", h.adminPassword) // {"password"?} → {"username","password"} shown once
	admin.GET("/members/:username/audit", h.adminAudit)        // admins' actions on the member, newest first
	admin.GET("/newcomer-limits", h.adminNewcomerLimits)       // new members' limits until approved
	admin.PUT("/newcomer-limits", h.adminSetNewcomerLimits)    // {"min","max"}, or {} for the configured ones
	// announcements routes
	me.GET("/announcements", h.listAnnouncements) // ?q&kind&category&member&min_price&max_price&lat&lon&radius_km&include_inactive&origin&limit&offset
	me.POST("/announcements", h.createAnnouncement)
	me.GET("/announcements/:id", h.announcement)
	me.PATCH("/announcements/:id", h.updateAnnouncement)  // author or admin
	me.DELETE("/announcements/:id", h.deleteAnnouncement) // author or admin
	me.GET("/categories", h.categories)
	me.GET("/proposals", h.myProposals)                // the proposals naming the member
	me.POST("/proposals/:h/:answer", h.answerProposal) // accept | decline, by a party
	// contracts routes (contracts.go): the member's (an admin's: all)
	me.GET("/contracts", h.myContracts)
	me.GET("/contracts/:h", h.contractOf)                    // state, round, needs, evidence, legs
	me.POST("/contracts/:h/promises", h.memberPromise)       // {"round","sig"}: own key
	me.POST("/contracts/:h/resolve", h.memberResolve)        // {"sig"}: own key
	me.POST("/contracts/:h/cancel", h.cancelContract)        // resolve with T now
	me.GET("/contracts/:h/bundle", h.contractBundle)         // {"contract","promises","token"}
	me.POST("/contracts/:h/legs/:leg/confirm", h.confirmLeg) // the item's receiver has it
	me.GET("/wantlists", h.wantLists)                        // the member's want lists
	me.GET("/wantlists/:id", h.wantList)                     // the want list of offer id
	me.PUT("/wantlists/:id", h.setWantList)                  // {"accepts": [event id, …]}, author only
	me.DELETE("/wantlists/:id", h.deleteWantList)            // author or admin
	admin.POST("/categories", h.adminCreateCategory)         // {"slug","name"}
	admin.PATCH("/categories/:slug", h.adminUpdateCategory)  // {"slug"?,"name"?}
	admin.DELETE("/categories/:slug", h.adminDeleteCategory)
	// people routes (pictures.go, messages.go, people.go): the directory,
	// pictures of profiles and announcements, messages between members
	me.GET("/directory", h.peopleDirectory)                              // ?q&limit&offset: members and federated authors
	me.PUT("/me/picture", h.setMyPicture)                                // multipart/form-data, field "picture"
	me.DELETE("/me/picture", h.deleteMyPicture)                          //
	me.PUT("/announcements/:id/picture", h.setAnnouncementPicture)       // author or admin; multipart, field "picture"
	me.DELETE("/announcements/:id/picture", h.deleteAnnouncementPicture) // author or admin
	me.GET("/pictures/:id", h.picture)                                   // the image, with ETag
	me.GET("/messages", h.conversations)                                 // → {"unread","conversations"}
	me.POST("/messages", h.sendMessage)                                  // {"to","body","announcement_id"?}
	me.GET("/messages/:username", h.thread)                              // ?before&limit: the conversation with username
	me.POST("/messages/:username/read", h.markRead)                      // mark username's messages read
	// intertrading routes
	me.GET("/intertrade/communities", h.intertradeCommunities) // the circle's other communities
	admin.GET("/intertrade", h.adminIntertrade)                // config, import/export, last handshake, integrity
	admin.GET("/intertrade/history", h.adminIntertradeHistory) // ?state&direction&before&limit
	admin.POST("/intertrade/handshake", h.adminIntertradeHandshake)
	admin.POST("/intertrade/reconcile", h.adminIntertradeReconcile)
	admin.POST("/intertrade/settle", h.adminIntertradeSettle)
	admin.GET("/intertrade/join", h.adminJoin)             // the latest request to join a circle
	admin.POST("/intertrade/join", h.adminAskJoin)         // {"circle_url","rate","message"}: ask (while alone)
	admin.POST("/intertrade/join/check", h.adminCheckJoin) // ask the circle for its answer now

	// federation routes (sxp-fed/1): signed server-to-server requests, verified by verifyServer
	r.GET("/.well-known/sxp", h.wellKnown)
	fed := r.Group("/federation/v1", h.verifyServer)
	fed.POST("/peers", h.peeringRequest) // {"base_url"} → 202 requested | 200 active
	fed.DELETE("/peers", h.peeringEnd)
	fed.POST("/inbox", h.inbox)                                         // {"events":[…]} → {"applied","ignored"}
	fed.POST("/contracts", h.receiveContract)                           // {"contract": C}: a proposal (deals)
	fed.POST("/contracts/:h/:answer", h.toldProposal)                   // accept | decline {"members"} (extension)
	fed.POST("/contracts/:h/promises", h.receivePromise)                // {"party","round","sig"} (contracts)
	fed.POST("/messages", h.receiveMessage)                             // {"id","from","to","body","offer"?,"sent_at"} (extension)
	fed.GET("/events", h.events)                                        // ?after&limit → {"events","next"}
	admin.GET("/federation", h.adminFederation)                         // keys and peers
	admin.POST("/federation/peers", h.adminPeerAction("add"))           // {"url"}: add or approve
	admin.POST("/federation/peers/refuse", h.adminPeerAction("refuse")) // {"url"}
	admin.POST("/federation/peers/remove", h.adminPeerAction("remove")) // {"url"}
	admin.POST("/federation/keys/rotate", h.adminRotateKey)             // {"overlap"}
	// deals routes (the market): rounds and proposals
	admin.POST("/deals/rounds", h.adminRound)       // {"max_loop","max_communities"} → the loops proposed
	admin.GET("/deals/proposals", h.adminProposals) // every proposal here, newest first

	// contract keys (contractkeys.go): the key that signs a member's contracts
	me.GET("/me/contract-key", h.contractKey)    // → {"key","own","fingerprint"}
	me.PUT("/me/contract-key", h.setContractKey) // {"key": base64 Ed25519}: the member's own; they sign

	// The HTML pages (*_pages.go, pages.go; the same error table).
	r.GET("/login", h.loginPage)
	r.POST("/login", h.loginForm)
	r.GET("/register", h.registerPage)
	r.POST("/register", h.registerForm)
	r.GET("/email/verify", h.requireMail, h.verifyPage) // ?token: the link of a verification mail
	r.GET("/password/forgot", h.forgotPage)
	r.POST("/password/forgot", h.forgotForm)
	r.GET("/password/reset", h.resetPage) // ?token: the link of a reset mail
	r.POST("/password/reset", h.resetForm)
	r.GET("/language/:lang", h.chooseLanguage) // ?next=/path: the language menu (i18n.go), a cookie
	pages := r.Group("", h.requirePageMember)
	pages.GET("/settings", h.settingsPage) // e-mail address and notices (mail_pages.go)
	pages.POST("/settings/email", h.requireMail, h.emailForm)
	pages.POST("/settings/email/remove", h.requireMail, h.emailRemoveForm)
	pages.POST("/settings/notices", h.requireMail, h.noticesForm)
	pages.GET("/", h.homePage)
	pages.POST("/logout", h.logoutForm)
	pages.GET("/pay", h.payPage)
	pages.POST("/pay/review", h.payReviewForm) // the form → what will happen, with a Confirm
	pages.POST("/pay", h.payConfirmForm)       // Confirm (or a form straight away) → the receipt
	pages.GET("/requests", h.requestsPage)
	pages.POST("/requests", h.requestForm)
	pages.POST("/requests/:id/:action", h.requestActionForm) // accept | reject | cancel
	pages.GET("/statement", h.statementPage)
	pages.GET("/statement.csv", h.statementCSV)
	pages.GET("/profile", h.profilePage)
	pages.POST("/profile", h.profileForm)
	pages.POST("/profile/password", h.passwordForm)
	adminPages := pages.Group("/admin", h.requirePageAdmin)
	adminPages.GET("", h.adminIndexPage) // to the members page
	adminPages.GET("/members", h.adminMembersPage)
	adminPages.GET("/members/:username", h.adminMemberPage)          // statement, limits, role, access, audit
	adminPages.POST("/members/:username/:action", h.adminMemberForm) // approve | block | unblock | unlock | limits | role | password
	adminPages.POST("/newcomer-limits", h.adminNewcomerForm)         // {newcomer_min, newcomer_max}
	adminPages.GET("/mail", h.adminMailPage)                         // the outbox
	adminPages.POST("/mail/retry", h.requireMail, h.adminMailRetryForm)
	// announcements pages
	pages.GET("/offers", h.offersPage) // browse and search
	pages.GET("/offers/new", h.newOfferPage)
	pages.POST("/offers/new", h.newOfferForm)
	pages.GET("/offers/:id", h.offerPage)
	pages.GET("/offers/:id/edit", h.editOfferPage)
	pages.POST("/offers/:id/edit", h.editOfferForm)
	pages.POST("/offers/:id/close", h.closeOfferForm)
	pages.POST("/offers/:id/reopen", h.reopenOfferForm)
	pages.POST("/offers/:id/delete", h.deleteOfferForm)
	pages.POST("/offers/:id/give", h.giveForm) // {mine}: I would give my offer mine for this
	pages.GET("/wantlists", h.wantListsPage)
	pages.POST("/wantlists/:id/delete", h.deleteWantListForm)
	pages.GET("/proposals", h.proposalsPage)
	pages.POST("/proposals/:h/:answer", h.proposalAnswerForm) // accept | decline
	// contracts pages
	pages.GET("/contracts", h.contractsPage)
	pages.POST("/contracts/:h/:action", h.contractActionForm) // cancel | confirm {leg}
	adminPages.GET("/contracts", h.adminContractsPage)
	adminPages.GET("/categories", h.adminCategoriesPage)
	adminPages.POST("/categories", h.adminCategoryForm)                     // add
	adminPages.POST("/categories/:slug/:action", h.adminCategoryActionForm) // rename | delete
	// people pages (people_pages.go)
	pages.GET("/members", h.directoryPage) // ?q&offset
	pages.GET("/members/:username", h.memberPage)
	pages.POST("/profile/picture", h.profilePictureForm) // multipart, field "picture"
	pages.POST("/profile/picture/delete", h.profilePictureDeleteForm)
	pages.POST("/offers/:id/picture", h.offerPictureForm) // author or admin; multipart
	pages.POST("/offers/:id/picture/delete", h.offerPictureDeleteForm)
	pages.GET("/messages", h.messagesPage)
	pages.GET("/messages/:username", h.conversationPage) // ?about=offer id; marks the messages read
	pages.POST("/messages/:username", h.sendMessageForm)
	// intertrading pages
	adminPages.GET("/intertrade", h.adminIntertradePage)
	adminPages.POST("/intertrade/:action", h.adminIntertradeForm) // handshake | reconcile | settle
	adminPages.POST("/circle/join", h.adminJoinForm)              // {circle_url, rate, message}: ask a circle to join (while alone)
	adminPages.POST("/circle/check", h.adminJoinCheckForm)        // ask the circle for its answer now
	// federation pages
	adminPages.GET("/federation", h.adminFederationPage)
	adminPages.POST("/federation/:action", h.adminFederationForm) // add | approve | refuse | remove | rotate
	// deals pages
	adminPages.GET("/deals", h.adminDealsPage)
	adminPages.POST("/deals/round", h.adminRoundForm) // {max_loop, max_communities}
	// contract key page (contractkeys_pages.go): a section of /profile
	pages.POST("/profile/contract-key", h.contractKeyForm) // {key}: register one's own contract key

	return r
}
