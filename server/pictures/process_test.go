package pictures_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/sxp-network/sxp/server/pictures"
)

// picture draws a w×h gradient and encodes it as format.
func picture(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			copy(img.Pix[i:i+4], []uint8{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG that declares w×h and holds no pixel data: what a
// decompression bomb looks like to DecodeConfig.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func truncated(b []byte) []byte { return b[:len(b)*2/3] }

func TestProcess(t *testing.T) {
	jpegWithComment := picture(t, "jpeg", 40, 30)
	// A COM segment right after SOI: metadata that must not survive.
	jpegWithComment = append(append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x0E}, []byte("secret-place")...), jpegWithComment[2:]...)
	tests := []struct {
		name        string
		data        []byte
		code        string
		contentType string
		w, h        int
	}{
		{"small jpeg kept as is", picture(t, "jpeg", 40, 30), "", "image/jpeg", 40, 30},
		{"wide png scaled down", picture(t, "png", 1100, 300), "", "image/png", 1024, 279},
		{"tall gif scaled down to png", picture(t, "gif", 200, 1100), "", "image/png", 186, 1024},
		{"jpeg comment stripped", jpegWithComment, "", "image/jpeg", 40, 30},
		{"empty", nil, pictures.CodeInvalid, "", 0, 0},
		{"text with an image name", []byte("hello, I am photo.jpg"), pictures.CodeUnsupported, "", 0, 0},
		{"too many bytes", make([]byte, pictures.MaxUpload+1), pictures.CodeTooLarge, "", 0, 0},
		{"decompression bomb", pngHeader(100000, 100000), pictures.CodeInvalid, "", 0, 0},
		{"too many pixels", pngHeader(4000, 3200), pictures.CodeInvalid, "", 0, 0},
		{"large photo scaled in two steps", picture(t, "jpeg", 2100, 1000), "", "image/jpeg", 1024, 487},
		{"header only", pngHeader(10, 10), pictures.CodeInvalid, "", 0, 0},
		{"truncated jpeg", truncated(picture(t, "jpeg", 300, 300)), pictures.CodeInvalid, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pictures.Process(tt.data)
			if got := pictures.CodeOf(err); got != tt.code {
				t.Fatalf("got code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code != "" {
				return
			}
			if p.ContentType != tt.contentType || p.Width != tt.w || p.Height != tt.h {
				t.Fatalf("got %s %d×%d, want %s %d×%d", p.ContentType, p.Width, p.Height, tt.contentType, tt.w, tt.h)
			}
			cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
			if err != nil || "image/"+format != tt.contentType || cfg.Width != tt.w || cfg.Height != tt.h {
				t.Fatalf("stored data decodes as %s %d×%d (%v), want %s %d×%d", format, cfg.Width, cfg.Height, err, tt.contentType, tt.w, tt.h)
			}
			if bytes.Contains(p.Data, []byte("secret-place")) {
				t.Fatal("the stored picture kept the upload's comment")
			}
		})
	}
}

func TestFit(t *testing.T) {
	for _, tt := range []struct{ w, h, max, gw, gh int }{
		{10, 10, 1024, 10, 10}, {1024, 1024, 1024, 1024, 1024}, {2048, 1024, 1024, 1024, 512},
		{1000, 3000, 1024, 341, 1024}, {8000, 1, 1024, 1024, 1},
	} {
		if gw, gh := pictures.Fit(tt.w, tt.h, tt.max); gw != tt.gw || gh != tt.gh {
			t.Errorf("Fit(%d, %d, %d): got %d×%d, want %d×%d", tt.w, tt.h, tt.max, gw, gh, tt.gw, tt.gh)
		}
	}
}

// FuzzProcess feeds Process arbitrary bytes (seeded with small valid and
// broken pictures): it must never panic, and what it accepts must be a
// picture of the kept format within the kept size.
func FuzzProcess(f *testing.F) {
	for _, format := range []string{"jpeg", "png", "gif"} {
		f.Add(picture(f, format, 8, 6))
	}
	f.Add(pngHeader(100000, 100000))
	f.Add(pngHeader(3, 3))
	f.Add([]byte("GIF89a"))
	f.Add([]byte{0xFF, 0xD8, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := pictures.Process(data)
		if err != nil {
			if pictures.CodeOf(err) == "" {
				t.Fatalf("a refusal without a code: %v", err)
			}
			return
		}
		if p.Width < 1 || p.Height < 1 || p.Width > pictures.MaxSide || p.Height > pictures.MaxSide {
			t.Fatalf("kept %d×%d", p.Width, p.Height)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(p.Data))
		if err != nil || cfg.Width != p.Width || cfg.Height != p.Height {
			t.Fatalf("kept data does not decode as %d×%d: %v", p.Width, p.Height, err)
		}
	})
}
