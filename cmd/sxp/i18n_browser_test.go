package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sxp-network/sxp/cmd/sxp/sxptest"
	"github.com/sxp-network/sxp/migrations/pgtest"
)

// TestSpanishInBrowser: a browser whose Accept-Language is Spanish gets the
// community's pages in Spanish (<html lang="es">, money with a decimal
// comma, a form's refusal in Spanish); the language menu switches to
// English and back, and its choice outlasts the browser's header. It saves
// a screenshot of every page.
func TestSpanishInBrowser(t *testing.T) {
	bin := sxptest.BuildSXP(t)
	ports := sxptest.FreePorts(t, 1)
	s := &fedServer{id: "leaf", db: pgtest.NewDatabase(t), listen: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		base: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	s.args = []string{"--database", s.db, "--community-id", "leaf", "--community-name", "Leaf Valley", "--currency", "LEAF",
		"--public-url", s.base, "--registration", "open"}
	sxptest.Run(t, bin, sxptest.WithoutSettings(), "migrate", "up", "--database", s.db)
	startFedServer(t, bin, s)

	register(t, s.base, "alice")
	bob := register(t, s.base, "bob")
	if st, out := apiJSON(t, s.base, "POST", "/api/v1/payments", bob, map[string]string{
		"to": "alice", "amount": "12.50", "description": "pan", "idempotency_key": "es-1"}); st != 201 {
		t.Fatalf("bob pays alice: got %d %v, want 201", st, out)
	}

	ctx := browser(t)
	dir := testOutput(t, "spanish")
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "es-ES,es;q=0.9"}}); err != nil {
		t.Fatal(err)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	open := func(path, ready string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
			t.Fatalf("open %s (waiting for %s): %v", path, ready, err)
		}
		return eval(`document.body.innerText`)
	}
	click := func(sel, ready string) string {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS(ready))); err != nil {
			t.Fatalf("after %s, waiting for %s: %v; at %s the page: %q", sel, ready, err, eval(`location.href`), eval(`document.body.innerText`))
		}
		return eval(`document.body.innerText`)
	}
	fill := func(fields map[string]string) {
		t.Helper()
		for sel, v := range fields {
			if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(sel), v)); err != nil {
				t.Fatalf("fill %s: %v", sel, err)
			}
		}
	}
	wantAll := func(page, where string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: %q missing from %q", where, w, page)
			}
		}
	}

	// Accept-Language: es, and nobody chose from the menu.
	p := open("/login", "#username")
	if lang := eval(`document.documentElement.lang`); lang != "es" {
		t.Errorf("log-in page: <html lang=%q>, want es", lang)
	}
	wantAll(p, "log-in page", "Iniciar sesión en Leaf Valley", "Nombre de usuario", "Contraseña", "¿Eres nuevo?", "Únete a la comunidad")
	shot("login-es")

	fill(map[string]string{"#username": "bob", "#password": "wrong password here"})
	p = click("main form button", ".error")
	wantAll(p, "a wrong password", "nombre de usuario o contraseña incorrectos")
	shot("login-refused-es")

	fill(map[string]string{"#username": "alice", "#password": fedPassword})
	p = click("main form button", "nav")
	wantAll(p, "alice's home", "Hola, Alice", "Tu saldo", "12,50 LEAF", "Actividad reciente", "Concepto", "Inicio", "Pagar", "Facturas", "Extracto")
	if strings.Contains(p, "Your balance") || strings.Contains(p, "12.50") {
		t.Errorf("alice's home in Spanish still shows English or 12.50: %q", p)
	}
	shot("home-es")

	p = open("/statement", "#q")
	wantAll(p, "statement", "Extracto", "Descargar en CSV", "Saldo actual: 12,50 LEAF")
	shot("statement-es")

	p = open("/requests", "#from")
	wantAll(p, "bills", "Por pagar", "Nadie te ha enviado una factura.", "Pedir un pago", "Enviar la factura")
	shot("bills-es")

	p = open("/pay", "#to")
	wantAll(p, "pay", "Importe (LEAF)", "Concepto", "Revisar el pago")
	fill(map[string]string{"#to": "bob", "#amount": "1,5"})
	p = click("#review", ".error")
	wantAll(p, "a bad amount", `Importe "1,5": no es un número decimal como 12.50`)
	shot("pay-refused-es")

	// A form's refusal in Spanish (the browser's own checks off).
	open("/offers/new", "#title")
	eval(`document.querySelectorAll('[required]').forEach(e => e.removeAttribute('required')); "ok"`)
	p = click("main form button", ".error")
	wantAll(p, "an empty offer", "El título no puede estar vacío", "Título", "Descripción", "Nueva oferta o demanda")
	shot("offer-refused-es")

	p = open("/offers", "#q")
	wantAll(p, "offers", "Ofertas y demandas", "Nueva oferta", "Buscar", "No se ha encontrado nada.")
	shot("offers-es")

	p = open("/profile", "#display_name")
	wantAll(p, "profile", "Tu perfil", "Sobre ti", "Cambia tu contraseña", "Contraseña actual")
	shot("profile-es")

	p = open("/members", "#q")
	wantAll(p, "directory", "Buscar un miembro por nombre", "Bob", "Miembros", "Mensajes", "Contratos")
	shot("directory-es")

	p = open("/members/bob", "#message-member")
	wantAll(p, "bob's page", "miembro de Leaf Valley desde el", "Escribir", "Ahora mismo no hay ofertas.")
	p = click("#message-member", "#body")
	wantAll(p, "conversation", "Mensajes con", "Todavía no hay mensajes: escribe el primero.", "Tu mensaje para Bob")
	fill(map[string]string{"#body": "¿Tienes pan mañana?"})
	p = click("#send", ".notice")
	wantAll(p, "a message sent", "Enviado a Bob.", "tú ·")
	shot("conversation-es")

	p = open("/contracts", "main h1")
	wantAll(p, "contracts", "Mis contratos", "Todavía no hay contratos.")

	p = open("/settings", "#mail-off")
	wantAll(p, "settings", "Ajustes", "El correo electrónico está desactivado en esta comunidad")
	shot("settings-es")

	// The menu: English, despite the browser's Spanish, and back.
	open("/statement", "#q")
	p = click(`#languages a[lang="en"]`, "#q")
	if lang := eval(`document.documentElement.lang`); lang != "en" || !strings.Contains(p, "Balance now: 12.50 LEAF") || eval(`location.pathname`) != "/statement" {
		t.Errorf("after choosing English on the statement: lang %q at %s, page %q; want the English statement", lang, eval(`location.pathname`), p)
	}
	shot("statement-menu-en")
	p = open("/", "nav")
	wantAll(p, "home after the menu", "Hello, Alice", "Your balance", "12.50 LEAF")
	p = click(`#languages a[lang="es"]`, "nav")
	wantAll(p, "home after choosing Spanish", "Hola, Alice", "12,50 LEAF")
	shot("home-menu-es")

	// The choice outlasts the header: a browser asking for English still
	// gets the Spanish it chose.
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
		Headers: network.Headers{"Accept-Language": "en-GB,en;q=0.9"}}); err != nil {
		t.Fatal(err)
	}
	p = open("/requests", "#from")
	wantAll(p, "bills with an English browser after choosing Spanish", "Por pagar", "Pedir un pago")
}
