package httpapi

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"unicode"

	"github.com/gin-gonic/gin"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// themeColor is the pages' header colour (layout.html's --accent), the
// manifest's theme colour and the icons' background.
const themeColor = "#2f6f4f"

// The installable app (a web app manifest and its icons): members add the
// community to their phone's home screen. The icons are the community's
// initial in white on the theme colour, drawn once with the Go Bold font.
var iconSizes = map[string]int{"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180}

type webManifest struct {
	Name            string         `json:"name"`
	ShortName       string         `json:"short_name"`
	Description     string         `json:"description"`
	StartURL        string         `json:"start_url"`
	Scope           string         `json:"scope"`
	Display         string         `json:"display"`
	ThemeColor      string         `json:"theme_color"`
	BackgroundColor string         `json:"background_color"`
	Icons           []manifestIcon `json:"icons"`
}

type manifestIcon struct {
	Src     string `json:"src"`
	Sizes   string `json:"sizes"`
	Type    string `json:"type"`
	Purpose string `json:"purpose"`
}

// manifest serves /manifest.webmanifest.
func (h *Handlers) manifest(c *gin.Context) {
	short := h.Community.Name
	if len([]rune(short)) > 12 {
		short = strings.ToUpper(h.Community.ID)
	}
	m := webManifest{
		Name: h.Community.Name, ShortName: short,
		Description: h.Community.Name + ": pay, send bills and trade offers in " + h.Community.Currency.Code,
		StartURL:    "/", Scope: "/", Display: "standalone", ThemeColor: themeColor, BackgroundColor: "#f7f8f5",
		Icons: []manifestIcon{
			{Src: "/icons/icon-192.png", Sizes: "192x192", Type: "image/png", Purpose: "any maskable"},
			{Src: "/icons/icon-512.png", Sizes: "512x512", Type: "image/png", Purpose: "any maskable"},
		},
	}
	b, err := json.Marshal(m)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, "application/manifest+json", b)
}

// icon serves /icons/NAME.png and /apple-touch-icon.png.
func (h *Handlers) icon(c *gin.Context) {
	name := c.Param("file")
	if name == "" {
		name = "apple-touch-icon.png"
	}
	size, ok := iconSizes[name]
	if !ok {
		h.notFound(c)
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	c.Data(http.StatusOK, "image/png", h.icons.get(h.Community.Name, size))
}

// iconCache draws each size once.
type iconCache struct {
	mu    sync.Mutex
	drawn map[int][]byte
}

func (ic *iconCache) get(name string, size int) []byte {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if b, ok := ic.drawn[size]; ok {
		return b
	}
	if ic.drawn == nil {
		ic.drawn = map[int][]byte{}
	}
	b := drawIcon(initial(name), size)
	ic.drawn[size] = b
	return b
}

// initial is the first letter or digit of name, upper case ("S" when none).
func initial(name string) string {
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return "S"
}

// drawIcon draws letter in white, centred, on a size×size square of the
// theme colour (the whole square: "maskable" icons are cut by the phone).
func drawIcon(letter string, size int) []byte {
	bg := color.RGBA{0x2f, 0x6f, 0x4f, 0xff}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	f, err := opentype.Parse(gobold.TTF)
	if err == nil {
		var face font.Face
		// The letter fills about half the icon, inside a maskable icon's safe zone.
		face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: float64(size) * 0.55, DPI: 72, Hinting: font.HintingFull})
		if err == nil {
			d := &font.Drawer{Dst: img, Src: image.NewUniform(color.White), Face: face}
			b, _ := d.BoundString(letter)
			w := b.Max.X - b.Min.X
			hgt := b.Max.Y - b.Min.Y
			d.Dot = fixed.Point26_6{
				X: fixed.I(size)/2 - w/2 - b.Min.X,
				Y: fixed.I(size)/2 - hgt/2 - b.Min.Y,
			}
			d.DrawString(letter)
			face.Close()
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img) // writing to memory does not fail
	return buf.Bytes()
}
