package otpcode_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/otpcode"
)

// corpusCase is one line of testdata/corpus.tsv.
type corpusCase struct {
	line         int
	sender, want string // want is "" when the text carries no code
	text         string
}

func readCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	f, err := os.Open("testdata/corpus.tsv")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		parts := strings.SplitN(l, "\t", 3)
		if len(parts) != 3 {
			tb.Fatalf("corpus.tsv:%d: want sender, code and text separated by tabs", n)
		}
		want := parts[1]
		if want == "-" {
			want = ""
		}
		out = append(out, corpusCase{line: n, sender: parts[0], want: want, text: strings.ReplaceAll(parts[2], `\n`, "\n")})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestCorpus holds the built-in rules to 99% precision and recall on a
// corpus of texts shaped like real OTP messages in many languages, and
// like the texts that are not OTPs but carry numbers. A wrong code or a
// code from a text without one fails at once (a holder told a wrong code
// is worse off than one told nothing); misses are listed and held to the
// recall floor.
func TestCorpus(t *testing.T) {
	cases := readCorpus(t)
	var truePos, falsePos, falseNeg, wrong int
	for _, c := range cases {
		got, ok := otpcode.Extract(c.text)
		switch {
		case c.want != "" && ok && got == c.want:
			truePos++
		case c.want != "" && ok:
			wrong++ // a code, but the wrong one: both a false positive and a miss
			t.Errorf("corpus.tsv:%d: got %q, want %q in %q", c.line, got, c.want, c.text)
		case c.want != "":
			falseNeg++ // reported, and held to the recall floor below
			t.Logf("corpus.tsv:%d: missed %q in %q", c.line, c.want, c.text)
		case ok:
			falsePos++
			t.Errorf("corpus.tsv:%d: got %q from a text with no code: %q", c.line, got, c.text)
		}
	}
	precision := float64(truePos) / float64(truePos+falsePos+wrong)
	recall := float64(truePos) / float64(truePos+falseNeg+wrong)
	t.Logf("%d texts: precision %.4f, recall %.4f (%d right, %d wrong code, %d missed, %d false)", len(cases), precision, recall, truePos, wrong, falseNeg, falsePos)
	if positives := truePos + falseNeg + wrong; positives < 200 {
		t.Errorf("the corpus has %d texts with a code; keep at least 200", positives)
	}
	if precision < 0.99 || recall < 0.99 {
		t.Errorf("precision %.4f and recall %.4f; both must stay at 0.99 or above", precision, recall)
	}
}

func BenchmarkExtract(b *testing.B) {
	cases := readCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := cases[i%len(cases)]
		otpcode.Extract(c.text)
	}
}
