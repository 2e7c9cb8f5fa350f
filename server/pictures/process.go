// Package pictures holds the pictures of members' profiles and of their
// announcements: each upload is checked (size, format by content, decoded
// dimensions before decoding), resized to a bounded size and re-encoded,
// which drops every bit of metadata, and kept in PostgreSQL (table
// pictures), so that pg_dump backs pictures up with the rest.
package pictures

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"

	xdraw "golang.org/x/image/draw"
)

// Limits of an upload and of what is kept.
const (
	// MaxUpload is the largest upload accepted, in bytes.
	MaxUpload = 5 << 20
	// MaxSourceSide and MaxSourcePixels bound the declared dimensions of
	// an upload, read before it is decoded: a small file that declares a
	// huge image (a decompression bomb) is refused without decoding it.
	// (12.5 million pixels, a 12-megapixel phone photo, of a 16-bit PNG
	// decode to 100 MB; Service lets maxDecoding uploads decode at once.)
	MaxSourceSide   = 8000
	MaxSourcePixels = 12_500_000
	// MaxSide is the longest side of a kept picture; larger ones are
	// scaled down, keeping their proportions.
	MaxSide = 1024
	// jpegQuality is the quality of re-encoded JPEG pictures.
	jpegQuality = 85
)

// Picture is a checked, resized and re-encoded picture.
type Picture struct {
	ID             int64
	MemberID       int64
	AnnouncementID int64 // 0 for a profile picture
	ContentType    string
	Data           []byte
	Width, Height  int
	SHA256         [32]byte
}

// ETag is the picture's entity tag: its content's hash, quoted.
func (p Picture) ETag() string { return fmt.Sprintf(`"%x"`, p.SHA256[:]) }

// formats are the accepted formats by the name image.DecodeConfig gives,
// and the content type each is kept as: GIF (first frame) and PNG as PNG
// (they may be transparent), JPEG as JPEG.
var formats = map[string]string{"jpeg": "image/jpeg", "png": "image/png", "gif": "image/png"}

// Process checks an upload and returns the picture to keep. It never
// panics, whatever data holds: refusals are *Error with CodeTooLarge,
// CodeUnsupported or CodeInvalid.
func Process(data []byte) (Picture, error) {
	if len(data) == 0 {
		return Picture{}, invalid("picture", "the picture is empty: choose a JPEG, PNG or GIF file")
	}
	if len(data) > MaxUpload {
		return Picture{}, &Error{Code: CodeTooLarge, Field: "picture",
			Message: fmt.Sprintf("the picture has %d bytes; at most %d (5 MB) are accepted", len(data), MaxUpload)}
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Picture{}, &Error{Code: CodeUnsupported, Field: "picture",
			Message: "this is not a JPEG, PNG or GIF picture (the file's content is checked, not its name)"}
	}
	contentType, ok := formats[format]
	if !ok {
		return Picture{}, &Error{Code: CodeUnsupported, Field: "picture",
			Message: fmt.Sprintf("%s pictures are not accepted: send JPEG, PNG or GIF", format)}
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSourceSide || cfg.Height > MaxSourceSide ||
		int64(cfg.Width)*int64(cfg.Height) > MaxSourcePixels {
		return Picture{}, invalid("picture", "the picture is %d×%d pixels; at most %d pixels a side and %d million in all are accepted",
			cfg.Width, cfg.Height, MaxSourceSide, MaxSourcePixels/1_000_000)
	}
	src, err := decode(format, data)
	if err != nil {
		return Picture{}, invalid("picture", "the picture is damaged and cannot be read: %v", err)
	}
	b := src.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > MaxSourceSide || b.Dy() > MaxSourceSide {
		return Picture{}, invalid("picture", "the picture's size does not match its header")
	}
	w, h := Fit(b.Dx(), b.Dy(), MaxSide)
	dst := scale(src, w, h)
	var out bytes.Buffer
	if contentType == "image/jpeg" {
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: jpegQuality})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, dst)
	}
	if err != nil {
		return Picture{}, fmt.Errorf("pictures: encode: %w", err)
	}
	return Picture{ContentType: contentType, Data: out.Bytes(), Width: w, Height: h, SHA256: sha256.Sum256(out.Bytes())}, nil
}

// scale draws src at w×h: Catmull-Rom, after a fast bilinear step down to
// twice the size when src is larger than that (Catmull-Rom over a whole
// phone photo takes seconds; over twice the size, a fraction of one).
func scale(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst
	}
	if b.Dx() > 2*w && b.Dy() > 2*h {
		mid := image.NewRGBA(image.Rect(0, 0, 2*w, 2*h))
		xdraw.ApproxBiLinear.Scale(mid, mid.Bounds(), src, b, xdraw.Src, nil)
		src, b = mid, mid.Bounds()
	}
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, b, xdraw.Src, nil)
	return dst
}

// decode decodes data of a format DecodeConfig named; a GIF gives its
// first frame.
func decode(format string, data []byte) (img image.Image, err error) {
	r := bytes.NewReader(data)
	switch format {
	case "jpeg":
		return jpeg.Decode(r)
	case "png":
		return png.Decode(r)
	case "gif":
		return gif.Decode(r)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// Fit scales w×h down to fit in max×max, keeping the proportions (at
// least 1 pixel a side); a picture that fits already is kept as it is.
func Fit(w, h, max int) (int, int) {
	if w <= max && h <= max {
		return w, h
	}
	if w >= h {
		return max, clamp1(h * max / w)
	}
	return clamp1(w * max / h), max
}

func clamp1(v int) int {
	if v < 1 {
		return 1
	}
	return v
}
