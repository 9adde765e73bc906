package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "hf", Doc: "Hugging Face datasets: one JSONL file per split shaped for training ({text, label}, {tokens, ner_tags}, {messages}, {prompt, chosen, rejected} or {prompt, completion, label}) and a dataset card README.md",
		Ext: "jsonl",
		Check: func(in *blocks.Interface) error {
			_, err := planHF(in)
			return err
		},
		New: newHFWriter})
}

// The shapes of an hf row, chosen from the project's blocks by planHF.
const (
	hfPreference     = "preference"           // {prompt, chosen, rejected}
	hfTokens         = "token classification" // {tokens, ner_tags}
	hfFeedback       = "feedback"             // {prompt, completion, label}
	hfConversation   = "conversation"         // {messages}
	hfClassification = "classification"       // {text, label} or {text, labels}
)

// Reasons a row is left out of an hf export, counted in the card.
const (
	hfLeftTie       = "the preference was a tie"
	hfLeftBothBad   = "both responses were bad"
	hfLeftNoPref    = "no preference was given"
	hfLeftNoRanking = "no ranking was given, or it names unknown candidates"
	hfLeftNoThumb   = "no thumb was given"
	hfLeftNoChat    = "the conversation could not be read"
	hfLeftTied      = "the labelers' answers tied in the majority vote"
)

// hfPlan is how a project's blocks become hf rows: the shape, the blocks
// and fields each column comes from, and the blocks left out.
type hfPlan struct {
	shape string

	texts []string // fields of the text and markdown blocks, in interface order
	image string   // field of the first image block
	audio string   // field of the first audio block
	chat  *blocks.Chat

	label    blocks.Valuer // classification: the one choice or multichoice block
	spans    *blocks.Spans
	pairwise *blocks.Pairwise
	pair     *blocks.Pair
	ranking  *blocks.Ranking
	thumbs   *blocks.Thumbs

	tags     []string       // token classification: O, B-X, I-X, …
	tagIndex map[string]int // tag → its index in tags
	columns  []hfColumn     // blocks that are columns of their own, by name
	left     []blocks.Valuer
}

// hfColumn is a block written as a column of its own.
type hfColumn struct {
	name  string
	block blocks.Valuer
}

// hfFlat reports whether an hf row can hold a block's value as a column:
// kinds with one flat value.
func hfFlat(v blocks.Valuer) bool {
	switch v.(type) {
	case *blocks.Choice, *blocks.MultiChoice, *blocks.Rating, *blocks.Thumbs, *blocks.Textbox, *blocks.Comment:
		return true
	}
	return false
}

// planHF picks the row shape by the first rule that fits, in this order:
//
//  1. a pairwise block with a pair block, else a ranking block: preference
//     pairs {prompt, chosen, rejected};
//  2. a spans block: {tokens, ner_tags};
//  3. a thumbs block, with text fields or a chat to rate:
//     {prompt, completion, label};
//  4. a chat block: {messages};
//  5. choice and multichoice blocks: {text, label} for one choice,
//     {text, labels} for one multichoice, and a column per block, named by
//     the block, when there are several.
//
// Within a kind the first block in config order is taken. It returns
// EINVALID naming the blocks hf needs when none fits.
func planHF(in *blocks.Interface) (*hfPlan, error) {
	p := &hfPlan{}
	var classes []blocks.Valuer
	var pairwise, ranking, spans, thumbs blocks.Valuer
	in.Walk(func(b blocks.Block) {
		switch b := b.(type) {
		case *blocks.Text:
			p.texts = hfAppendNew(p.texts, b.Field)
		case *blocks.Markdown:
			p.texts = hfAppendNew(p.texts, b.Field)
		case *blocks.Image:
			if p.image == "" {
				p.image = b.Field
			}
		case *blocks.Audio:
			if p.audio == "" {
				p.audio = b.Field
			}
		case *blocks.Chat:
			if p.chat == nil {
				p.chat = b
			}
		case *blocks.Pair:
			if p.pair == nil {
				p.pair = b
			}
		}
	})
	for _, v := range in.Valuers() {
		switch v := v.(type) {
		case *blocks.Choice, *blocks.MultiChoice:
			classes = append(classes, v)
		case *blocks.Pairwise:
			if pairwise == nil {
				pairwise = v
			}
		case *blocks.Ranking:
			if ranking == nil {
				ranking = v
			}
		case *blocks.Spans:
			if spans == nil {
				spans = v
			}
		case *blocks.Thumbs:
			if thumbs == nil {
				thumbs = v
			}
		}
	}
	used := map[blocks.Valuer]bool{}
	switch {
	case pairwise != nil && p.pair != nil:
		p.shape, p.pairwise = hfPreference, pairwise.(*blocks.Pairwise)
		used[pairwise] = true
	case ranking != nil:
		p.shape, p.ranking = hfPreference, ranking.(*blocks.Ranking)
		used[ranking] = true
	case spans != nil:
		p.shape, p.spans = hfTokens, spans.(*blocks.Spans)
		used[spans] = true
		p.tags = []string{"O"}
		for _, l := range p.spans.Labels {
			// As conll writes them: white space in a label becomes "_".
			l := strings.Join(strings.Fields(l.Value), "_")
			p.tags = append(p.tags, "B-"+l, "I-"+l)
		}
		p.tagIndex = map[string]int{}
		for i, t := range p.tags {
			if _, dup := p.tagIndex[t]; !dup {
				p.tagIndex[t] = i
			}
		}
	case thumbs != nil && (len(p.texts) > 0 || p.chat != nil):
		p.shape, p.thumbs = hfFeedback, thumbs.(*blocks.Thumbs)
		used[thumbs] = true
	case p.chat != nil:
		p.shape = hfConversation
	case len(classes) > 0:
		p.shape = hfClassification
		if len(classes) == 1 {
			p.label = classes[0]
			used[classes[0]] = true
		}
	default:
		var kinds []string
		for _, v := range in.Valuers() {
			kinds = append(kinds, fmt.Sprintf("%s (%s)", v.Common().Name, v.Common().Type))
		}
		has := "no block with a value"
		if len(kinds) > 0 {
			has = strings.Join(kinds, ", ")
		}
		return nil, loupe.FieldErrorf("format", "the hf format needs a choice or multichoice block (text classification), a spans block (token classification), "+
			"a chat block (conversations), a pairwise block with a pair block or a ranking block (preferences), or a thumbs block with a text or chat block (feedback); this project has %s", has)
	}
	// Preference pairs and feedback rows are training examples of their
	// own: the item's other labels do not belong to them.
	taken := map[string]bool{}
	for _, c := range p.fixedColumns(true) {
		taken[c] = true
	}
	for _, v := range in.Valuers() {
		if used[v] {
			continue
		}
		if !hfFlat(v) || p.shape == hfPreference || p.shape == hfFeedback {
			p.left = append(p.left, v)
			continue
		}
		name := v.Common().Name
		for taken[name] {
			name = "block_" + name
		}
		taken[name] = true
		p.columns = append(p.columns, hfColumn{name: name, block: v})
	}
	return p, nil
}

func hfAppendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// conversational reports whether prompts are lists of messages (a chat
// block and no text field to take the prompt from).
func (p *hfPlan) conversational() bool {
	switch p.shape {
	case hfPreference:
		return len(p.texts) == 0 && p.chat != nil
	case hfFeedback:
		return p.chat != nil
	}
	return false
}

// fixedColumns returns the columns the shape writes before the block
// columns, in order.
func (p *hfPlan) fixedColumns(every bool) []string {
	cols := []string{"id"}
	if every {
		cols = append(cols, "user")
	}
	switch p.shape {
	case hfPreference:
		cols = append(cols, "prompt", "chosen", "rejected")
	case hfTokens:
		cols = append(cols, "tokens", "ner_tags")
	case hfFeedback:
		cols = append(cols, "prompt", "completion", "label", "source")
	case hfConversation:
		cols = append(cols, "messages")
	case hfClassification:
		if p.hasText() {
			cols = append(cols, "text")
		}
		if p.image != "" {
			cols = append(cols, "image")
		}
		if p.audio != "" {
			cols = append(cols, "audio")
		}
		switch p.label.(type) {
		case *blocks.Choice:
			cols = append(cols, "label")
		case *blocks.MultiChoice:
			cols = append(cols, "labels")
		}
	}
	return cols
}

// hasText reports whether a classification row has a text column: the
// text fields shown, or, when the project shows no text, image or audio,
// every field the blocks read.
func (p *hfPlan) hasText() bool { return len(p.texts) > 0 || p.image == "" && p.audio == "" }

func newHFWriter(s Sink, m *Meta) (Writer, error) {
	p, err := planHF(m.Interface)
	if err != nil {
		return nil, err
	}
	for _, sp := range m.Splits {
		// The datasets library takes split names that match
		// ^\w+(\.\w+)*$, and "all" stands for every split together.
		switch {
		case strings.Contains(sp, "-"):
			return nil, loupe.FieldErrorf("split", "split %q: Hugging Face datasets refuse split names with '-'; use '_'", sp)
		case sp == "all":
			return nil, loupe.FieldErrorf("split", "split %q: Hugging Face datasets keep the name all for every split together; choose another", sp)
		}
	}
	w := &hfWriter{plan: p, meta: m, sink: s, files: SplitFiles{Sink: s, Ext: "jsonl"},
		rows: map[string]int{}, left: map[string]int{}, every: m.Aggregate == AggregateEvery}
	if p.shape == hfClassification && len(p.texts) == 0 && p.hasText() {
		p.texts = m.Interface.Fields()
	}
	return w, w.files.Ensure(m.Splits)
}

// hfWriter writes rows in the shape its plan chose (planHF), one JSON
// object a line, SPLIT.jsonl per split (data.jsonl, the train split, when
// the export is not split), and the dataset card README.md when it
// closes:
//
//	classification  {"id", "text", "label": 0}  or {"id", "text", "labels": [0, 2]}
//	tokens          {"id", "tokens": ["Alice", "Smith", …], "ner_tags": [1, 2, …]}
//	conversation    {"id", "messages": [{"role", "content"}, …]}
//	preference      {"id", "prompt", "chosen", "rejected"}
//	feedback        {"id", "prompt", "completion", "label": true, "source": "annotation"}
//
// "id" is the item's external id, else its Loupe id; "user" follows it
// with the every aggregation. Classification, tokens and conversation
// rows end with a column per other choice, multichoice, rating, thumbs,
// textbox and comment block, named by the block. A choice is the index of
// its option (-1 for none), a multichoice the indexes of its options; the
// card lists the names. Rows a shape cannot make (a tie, no answer) are
// left out and counted in the card.
type hfWriter struct {
	plan  *hfPlan
	meta  *Meta
	sink  Sink
	files SplitFiles
	every bool

	rows         map[string]int // split → rows written
	left         map[string]int // reason → rows left out
	feedbackRows int            // feedback rows from the feedback API

	item string // the item whose data is decoded
	data map[string]any
	buf  []byte
}

func (w *hfWriter) Write(row *Row) error {
	f, err := w.files.Get(row.Split)
	if err != nil {
		return err
	}
	newItem := row.Record.ItemID != w.item || w.data == nil
	if newItem {
		w.item, w.data = row.Record.ItemID, row.Record.DataMap()
	}
	p := w.plan
	w.buf = w.buf[:0]
	switch p.shape {
	case hfPreference:
		w.preferenceRows(row)
	case hfTokens:
		w.tokenRow(row)
	case hfFeedback:
		w.feedbackRow(row, newItem)
	case hfConversation:
		w.conversationRow(row)
	case hfClassification:
		w.classificationRow(row)
	}
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := f.Write(w.buf); err != nil {
		return fmt.Errorf("write hf: %w", err)
	}
	return nil
}

// begin starts a row: {"id":…[,"user":…].
func (w *hfWriter) begin(row *Row) {
	w.rows[hfSplitKey(row.Split)]++
	w.buf = append(w.buf, `{"id":`...)
	id := row.Record.ExternalID
	if id == "" {
		id = row.Record.ItemID
	}
	w.buf = appendString(w.buf, id)
	if w.every {
		w.buf = append(w.buf, `,"user":`...)
		if row.User == "" {
			w.buf = append(w.buf, "null"...)
		} else {
			w.buf = appendString(w.buf, row.User)
		}
	}
}

// end writes the block columns and closes the row.
func (w *hfWriter) end(row *Row) {
	for _, c := range w.plan.columns {
		w.buf = append(w.buf, ',')
		w.buf = appendString(w.buf, c.name)
		w.buf = append(w.buf, ':')
		w.buf = hfAppendFlat(w.buf, c.block, row.Values[c.block.Common().Name])
	}
	w.buf = append(w.buf, "}\n"...)
}

func (w *hfWriter) key(name string) {
	w.buf = append(w.buf, `,"`...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, `":`...)
}

// appendFlat appends a block's value as its column holds it: a choice as
// the index of its option (-1 for none), a multichoice as the indexes of
// its options, a rating as its number, a thumb as true for up, a text as
// itself; null for none.
func hfAppendFlat(b []byte, v blocks.Valuer, raw json.RawMessage) []byte {
	switch v := v.(type) {
	case *blocks.Choice:
		return strconv.AppendInt(b, int64(hfOptionIndex(v.Options, hfString(raw))), 10)
	case *blocks.MultiChoice:
		return hfAppendIndexes(b, v.Options, raw)
	}
	if isEmptyValue(raw) {
		return append(b, "null"...)
	}
	switch v.(type) {
	case *blocks.Thumbs:
		return strconv.AppendBool(b, hfString(raw) == blocks.ThumbUp)
	case *blocks.Rating:
		return append(b, bytes.TrimSpace(raw)...)
	}
	return appendString(b, hfString(raw))
}

func hfAppendIndexes(b []byte, opts blocks.Options, raw json.RawMessage) []byte {
	var vals []string
	json.Unmarshal(raw, &vals)
	b = append(b, '[')
	n := 0
	for _, s := range vals {
		i := hfOptionIndex(opts, s)
		if i < 0 {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(i), 10)
		n++
	}
	return append(b, ']')
}

func hfOptionIndex(opts blocks.Options, v string) int {
	for i, o := range opts {
		if o.Value == v {
			return i
		}
	}
	return -1
}

func hfString(raw json.RawMessage) string {
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// joined returns the text of the fields, joined by a blank line.
func hfJoined(data map[string]any, fields []string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = blocks.FieldText(data, f)
	}
	return strings.Join(parts, "\n\n")
}

func (w *hfWriter) classificationRow(row *Row) {
	p := w.plan
	w.begin(row)
	if p.hasText() {
		w.key("text")
		w.buf = appendString(w.buf, hfJoined(w.data, p.texts))
	}
	if p.image != "" {
		w.key("image")
		w.buf = appendString(w.buf, blocks.FieldText(w.data, p.image))
	}
	if p.audio != "" {
		w.key("audio")
		w.buf = appendString(w.buf, blocks.FieldText(w.data, p.audio))
	}
	if p.label != nil {
		raw := row.Values[p.label.Common().Name]
		switch l := p.label.(type) {
		case *blocks.Choice:
			w.key("label")
			w.buf = strconv.AppendInt(w.buf, int64(hfOptionIndex(l.Options, hfString(raw))), 10)
		case *blocks.MultiChoice:
			w.key("labels")
			w.buf = hfAppendIndexes(w.buf, l.Options, raw)
		}
	}
	w.end(row)
}

// message is one message of a conversation as hf writes it.
type hfMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func (w *hfWriter) messages() ([]hfMessage, bool) {
	msgs, err := blocks.ParseMessages(w.data[w.plan.chat.Field])
	if err != nil {
		return nil, false
	}
	out := make([]hfMessage, len(msgs))
	for i, m := range msgs {
		out[i] = hfMessage{Role: m.Role, Content: m.Content}
	}
	return out, true
}

func hfAppendMessages(b []byte, msgs []hfMessage) []byte {
	b = append(b, '[')
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = appendString(b, m.Role)
		b = append(b, `,"content":`...)
		b = appendString(b, m.Content)
		b = append(b, '}')
	}
	return append(b, ']')
}

func (w *hfWriter) conversationRow(row *Row) {
	msgs, ok := w.messages()
	if !ok {
		w.left[hfLeftNoChat]++
		return
	}
	w.begin(row)
	w.key("messages")
	w.buf = hfAppendMessages(w.buf, msgs)
	w.end(row)
}

// answer appends a response: text, or in conversational rows a list of
// one assistant message.
func (w *hfWriter) answer(text string) {
	if w.plan.conversational() {
		w.buf = hfAppendMessages(w.buf, []hfMessage{{Role: "assistant", Content: text}})
	} else {
		w.buf = appendString(w.buf, text)
	}
}

// preferenceRows writes the pairs a pairwise or ranking value makes.
func (w *hfWriter) preferenceRows(row *Row) {
	p := w.plan
	var block string
	if p.pairwise != nil {
		block = p.pairwise.Name
	} else {
		block = p.ranking.Name
	}
	if slices.Contains(row.Ties, block) {
		w.left[hfLeftTied]++
		return
	}
	var prompt []hfMessage
	if p.conversational() {
		msgs, ok := w.messages()
		if !ok {
			w.left[hfLeftNoChat]++
			return
		}
		prompt = msgs
	}
	pair := func(chosen, rejected string) {
		w.begin(row)
		w.key("prompt")
		if prompt != nil {
			w.buf = hfAppendMessages(w.buf, prompt)
		} else {
			w.buf = appendString(w.buf, hfJoined(w.data, p.texts))
		}
		w.key("chosen")
		w.answer(chosen)
		w.key("rejected")
		w.answer(rejected)
		w.end(row)
	}
	if p.pairwise != nil {
		var pv blocks.PairValue
		json.Unmarshal(row.Values[p.pairwise.Name], &pv)
		left, right := blocks.FieldText(w.data, p.pair.Left), blocks.FieldText(w.data, p.pair.Right)
		switch pv.Choice {
		case blocks.PairA:
			pair(left, right)
		case blocks.PairB:
			pair(right, left)
		case blocks.PairTie:
			w.left[hfLeftTie]++
		case blocks.PairBothBad:
			w.left[hfLeftBothBad]++
		default:
			w.left[hfLeftNoPref]++
		}
		return
	}
	// A ranking of n candidates makes every pair of them, the better
	// first: n(n-1)/2 rows.
	var order []string
	json.Unmarshal(row.Values[p.ranking.Name], &order)
	cands, err := p.ranking.Candidates(w.data)
	text := map[string]string{}
	for _, c := range cands {
		text[c.ID] = c.Text
	}
	ok := err == nil && len(order) >= 2
	for _, id := range order {
		if _, known := text[id]; !known {
			ok = false
		}
	}
	if !ok {
		w.left[hfLeftNoRanking]++
		return
	}
	for i := range order {
		for j := i + 1; j < len(order); j++ {
			pair(text[order[i]], text[order[j]])
		}
	}
}

// feedbackRow writes the labeler's thumb, and, with the first row of an
// item, the thumbs its feedback API events carry.
func (w *hfWriter) feedbackRow(row *Row, newItem bool) {
	p := w.plan
	var prompt []hfMessage
	var promptText string
	completion := hfMessage{Role: "assistant"}
	switch {
	case p.chat != nil:
		msgs, ok := w.messages()
		if !ok {
			w.left[hfLeftNoChat]++
			return
		}
		if len(p.texts) > 0 {
			prompt, completion.Content = msgs, blocks.FieldText(w.data, p.texts[len(p.texts)-1])
		} else {
			prompt, completion = msgs[:len(msgs)-1], msgs[len(msgs)-1]
		}
	default:
		promptText = hfJoined(w.data, p.texts[:len(p.texts)-1])
		completion.Content = blocks.FieldText(w.data, p.texts[len(p.texts)-1])
	}
	one := func(thumb, source string, r *Row) {
		w.begin(r)
		w.key("prompt")
		if p.chat != nil {
			w.buf = hfAppendMessages(w.buf, prompt)
		} else {
			w.buf = appendString(w.buf, promptText)
		}
		w.key("completion")
		if p.chat != nil {
			w.buf = hfAppendMessages(w.buf, []hfMessage{completion})
		} else {
			w.buf = appendString(w.buf, completion.Content)
		}
		w.key("label")
		w.buf = strconv.AppendBool(w.buf, thumb == blocks.ThumbUp)
		w.key("source")
		w.buf = appendString(w.buf, source)
		w.end(r)
	}
	// The feedback API's thumbs on the item come first, once, before the
	// rows of its annotations.
	if newItem {
		for _, fb := range row.Record.Feedback {
			if fb.RatingBlock != p.thumbs.Name {
				continue
			}
			switch thumb := hfString(fb.Rating); thumb {
			case blocks.ThumbUp, blocks.ThumbDown:
				one(thumb, "feedback", &Row{Record: row.Record, Split: row.Split})
				w.feedbackRows++
			}
		}
	}
	switch thumb := hfString(row.Values[p.thumbs.Name]); thumb {
	case blocks.ThumbUp, blocks.ThumbDown:
		one(thumb, "annotation", row)
	case "":
		if slices.Contains(row.Ties, p.thumbs.Name) {
			w.left[hfLeftTied]++
		} else {
			w.left[hfLeftNoThumb]++
		}
	}
}

func (w *hfWriter) tokenRow(row *Row) {
	name := w.plan.spans.Name
	if slices.Contains(row.Ties, name) {
		w.left[hfLeftTied]++
		return
	}
	var spans []blocks.Span
	json.Unmarshal(row.Values[name], &spans)
	// The tokens and tags are conll's, so that the two formats agree.
	toks := conllTokenize(blocks.FieldText(w.data, w.plan.spans.Field))
	tags := bioTags(toks, spans)
	w.begin(row)
	w.key("tokens")
	w.buf = append(w.buf, '[')
	for i, t := range toks {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = appendString(w.buf, t.text)
	}
	w.buf = append(w.buf, ']')
	w.key("ner_tags")
	w.buf = append(w.buf, '[')
	for i, t := range tags {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.buf = strconv.AppendInt(w.buf, int64(w.plan.tagIndex[t]), 10)
	}
	w.buf = append(w.buf, ']')
	w.end(row)
}

func hfSplitKey(split string) string {
	if split == "" {
		return "train"
	}
	return split
}

// Close closes the data files and writes the dataset card.
func (w *hfWriter) Close() error {
	if err := w.files.Close(); err != nil {
		return err
	}
	f, err := w.sink.Create("README.md")
	if err != nil {
		return err
	}
	if _, err := f.Write(w.card()); err != nil {
		f.Close()
		return fmt.Errorf("write hf card: %w", err)
	}
	return f.Close()
}

// hfSplit is one split of the export as the card lists it.
type hfSplit struct{ name, file string }

func (w *hfWriter) splits() []hfSplit {
	if len(w.meta.Splits) == 0 {
		return []hfSplit{{"train", FileName("", "jsonl")}}
	}
	out := make([]hfSplit, len(w.meta.Splits))
	for i, s := range w.meta.Splits {
		out[i] = hfSplit{s, FileName(s, "jsonl")}
	}
	return out
}

// card returns README.md: YAML front matter that the datasets library
// and the Hub read (configs with the file of each split, the features
// with the names of class labels, the number of rows per split), then
// what the rows hold and where they come from. It depends on the rows
// and the Meta alone, so that an export made again is the same.
func (w *hfWriter) card() []byte {
	p, m := w.plan, w.meta
	var b bytes.Buffer
	b.WriteString("---\n")
	fmt.Fprintf(&b, "pretty_name: %s\n", hfYAML(m.Title))
	b.WriteString("tags:\n- loupe\n")
	switch {
	case p.shape == hfTokens:
		b.WriteString("task_categories:\n- token-classification\n")
	case p.shape == hfClassification && p.hasText():
		b.WriteString("task_categories:\n- text-classification\n")
	case p.shape == hfClassification && p.image != "":
		b.WriteString("task_categories:\n- image-classification\n")
	case p.shape == hfClassification:
		b.WriteString("task_categories:\n- audio-classification\n")
	}
	b.WriteString("configs:\n- config_name: default\n  data_files:\n")
	for _, s := range w.splits() {
		fmt.Fprintf(&b, "  - split: %s\n    path: %s\n", hfYAML(s.name), hfYAML(s.file))
	}
	b.WriteString("dataset_info:\n  features:\n")
	for _, c := range w.columns() {
		fmt.Fprintf(&b, "  - name: %s\n", hfYAML(c.name))
		b.WriteString(c.feature)
	}
	b.WriteString("  splits:\n")
	for _, s := range w.splits() {
		fmt.Fprintf(&b, "  - name: %s\n    num_examples: %d\n", hfYAML(s.name), w.rows[s.name])
	}
	b.WriteString("---\n\n")

	fmt.Fprintf(&b, "# %s\n\n", hfMD(m.Title))
	fmt.Fprintf(&b, "Exported from the Loupe project `%s` in the Hugging Face datasets layout: one JSON object a line, one file per split. ",
		hfCode(m.Project))
	b.WriteString("Load it with `datasets`:\n\n```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"json\", data_files={")
	for i, s := range w.splits() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", s.name, s.file)
	}
	b.WriteString("})\n```\n\nor with `load_dataset(\"PATH\")` on this folder (or a Hub repository holding it), which reads the configuration above.\n\n")

	b.WriteString("## Splits\n\n| split | file | rows |\n| --- | --- | ---: |\n")
	total := 0
	for _, s := range w.splits() {
		fmt.Fprintf(&b, "| %s | %s | %d |\n", hfMD(s.name), hfMD(s.file), w.rows[s.name])
		total += w.rows[s.name]
	}
	if len(w.meta.Splits) > 1 {
		fmt.Fprintf(&b, "| all | | %d |\n", total)
	}

	b.WriteString("\n## Rows\n\n")
	b.WriteString(w.shapeText())
	if p.shape == hfFeedback && w.feedbackRows > 0 {
		fmt.Fprintf(&b, " Of the %s, %s from the feedback API (`source` is `feedback`).", hfPlural(total, "row", "rows"), hfPlural(w.feedbackRows, "comes", "come"))
	}
	b.WriteString("\n\n| column | type | holds |\n| --- | --- | --- |\n")
	for _, c := range w.columns() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", hfCode(c.name), c.typ, c.holds)
	}

	w.labelsText(&b)
	w.leftText(&b)

	b.WriteString("\n## Provenance\n\n| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| project | `%s`: %s |\n", hfCode(m.Project), hfMD(m.Title))
	fmt.Fprintf(&b, "| config version | %d |\n", m.ConfigVersion)
	fmt.Fprintf(&b, "| aggregation | %s |\n", hfMD(hfAggregateText(m.Aggregate)))
	if len(m.Splits) > 0 {
		fmt.Fprintf(&b, "| splits | %s (by item, from a hash of the item's id and the seed) |\n", hfMD(strings.Join(m.Splits, ", ")))
	} else {
		b.WriteString("| splits | none: every row is in train |\n")
	}
	b.WriteString("| filters, split ratios, seed | in manifest.json beside this card |\n")
	models := "none"
	if len(m.Models) > 0 {
		q := make([]string, len(m.Models))
		for i, x := range m.Models {
			q[i] = "`" + hfCode(x) + "`"
		}
		models = strings.Join(q, ", ")
	}
	fmt.Fprintf(&b, "| model versions | %s |\n", models)
	fmt.Fprintf(&b, "| exported at | %s |\n", m.CreatedAt.UTC().Format(time.RFC3339))
	return b.Bytes()
}

// hfCardColumn is a column as the card describes it.
type hfCardColumn struct {
	name    string
	feature string // YAML lines of the feature, under "- name:"
	typ     string // the type in words
	holds   string // what it holds, in Markdown
}

const (
	featString   = "    dtype: string\n"
	featStrings  = "    sequence: string\n"
	featMessages = "    list:\n    - name: role\n      dtype: string\n    - name: content\n      dtype: string\n"
)

func hfClassLabel(indent string, names []string) string {
	var b strings.Builder
	b.WriteString(indent + "  class_label:\n" + indent + "    names:\n")
	for i, n := range names {
		fmt.Fprintf(&b, "%s      '%d': %s\n", indent, i, hfYAML(n))
	}
	return b.String()
}

func hfOptionValues(opts blocks.Options) []string {
	out := make([]string, len(opts))
	for i, o := range opts {
		out[i] = o.Value
	}
	return out
}

// columns describes every column, in the order rows hold them.
func (w *hfWriter) columns() []hfCardColumn {
	p := w.plan
	textOr := func(what string) (string, string, string) {
		if p.conversational() {
			return featMessages, "list of {role, content}", what + ", as a list of one assistant message"
		}
		return featString, "string", what
	}
	var out []hfCardColumn
	for _, name := range p.fixedColumns(w.every) {
		c := hfCardColumn{name: name, feature: featString, typ: "string"}
		switch name {
		case "id":
			c.holds = "the item's external id, else its Loupe id"
		case "user":
			c.holds = "the labeler whose annotation the row comes from (every annotation is a row)"
		case "text":
			c.holds = "the item's " + hfFieldList(p.texts) + hfTextJoin(p.texts)
		case "image":
			c.holds = "the item's field `" + hfCode(p.image) + "`: the image's URL or media path"
		case "audio":
			c.holds = "the item's field `" + hfCode(p.audio) + "`: the audio's URL or media path"
		case "label":
			if p.shape == hfFeedback {
				c.feature, c.typ = "    dtype: bool\n", "bool"
				c.holds = "true for thumbs up, false for thumbs down (thumbs block `" + hfCode(p.thumbs.Name) + "`)"
				break
			}
			c.feature, c.typ = "    dtype:\n"+hfClassLabel("    ", hfOptionValues(p.label.(*blocks.Choice).Options)), "class label (int)"
			c.holds = "the option of choice block `" + hfCode(p.label.Common().Name) + "`, as its index in the names above; -1 when there is none"
		case "labels":
			c.feature, c.typ = "    sequence:\n"+hfClassLabel("    ", hfOptionValues(p.label.(*blocks.MultiChoice).Options)), "list of class labels (int)"
			c.holds = "the options of multichoice block `" + hfCode(p.label.Common().Name) + "`, as their indexes in the names above, in option order"
		case "tokens":
			c.feature, c.typ = featStrings, "list of strings"
			c.holds = "the item's field `" + hfCode(p.spans.Field) + "` cut into words (runs of letters, digits and marks) and single other characters, white space dropped"
		case "ner_tags":
			c.feature, c.typ = "    sequence:\n"+hfClassLabel("    ", p.tags), "list of class labels (int)"
			c.holds = "one BIO tag per token from spans block `" + hfCode(p.spans.Name) + "`: `O`, `B-LABEL` on a span's first token, `I-LABEL` on the rest"
		case "messages":
			c.feature, c.typ = featMessages, "list of {role, content}"
			c.holds = "the conversation in the item's field `" + hfCode(p.chat.Field) + "`, each message's content as text"
		case "prompt":
			c.holds = w.promptText()
			if p.conversational() {
				c.feature, c.typ = featMessages, "list of {role, content}"
			}
		case "chosen":
			c.feature, c.typ, c.holds = textOr("the preferred response")
		case "rejected":
			c.feature, c.typ, c.holds = textOr("the other response")
		case "completion":
			c.feature, c.typ, c.holds = textOr(w.completionText())
			if p.chat != nil && len(p.texts) == 0 {
				c.holds = w.completionText()
			}
		case "source":
			c.holds = "`annotation` for a labeler's thumb, `feedback` for one sent through Loupe's feedback API"
		}
		out = append(out, c)
	}
	for _, col := range p.columns {
		c := hfCardColumn{name: col.name}
		name := "`" + hfCode(col.block.Common().Name) + "`"
		switch v := col.block.(type) {
		case *blocks.Choice:
			c.feature, c.typ = "    dtype:\n"+hfClassLabel("    ", hfOptionValues(v.Options)), "class label (int)"
			c.holds = "choice block " + name + ": its option's index; -1 when there is none"
		case *blocks.MultiChoice:
			c.feature, c.typ = "    sequence:\n"+hfClassLabel("    ", hfOptionValues(v.Options)), "list of class labels (int)"
			c.holds = "multichoice block " + name + ": its options' indexes"
		case *blocks.Rating:
			c.feature, c.typ = "    dtype: int64\n", "int"
			c.holds = fmt.Sprintf("rating block %s: 1 to %d; null when there is none", name, v.Scale)
		case *blocks.Thumbs:
			c.feature, c.typ = "    dtype: bool\n", "bool"
			c.holds = "thumbs block " + name + ": true for up, false for down; null when there is none"
		default:
			c.feature, c.typ = featString, "string"
			c.holds = col.block.Common().Type + " block " + name + ": its text; null when there is none"
		}
		out = append(out, c)
	}
	return out
}

func hfFieldList(fields []string) string {
	if len(fields) == 0 {
		return "fields: none (the project shows no text, so this is empty)"
	}
	if len(fields) == 1 {
		return "field `" + hfCode(fields[0]) + "`"
	}
	q := make([]string, len(fields))
	for i, f := range fields {
		q[i] = "`" + hfCode(f) + "`"
	}
	return "fields " + strings.Join(q, ", ")
}

func hfTextJoin(fields []string) string {
	if len(fields) > 1 {
		return ", joined by a blank line"
	}
	return ""
}

func (w *hfWriter) promptText() string {
	p := w.plan
	switch {
	case p.shape == hfFeedback && p.chat != nil && len(p.texts) > 0:
		return "the conversation in the item's field `" + hfCode(p.chat.Field) + "`"
	case p.shape == hfFeedback && p.chat != nil:
		return "the conversation in the item's field `" + hfCode(p.chat.Field) + "` but its last message"
	case p.shape == hfFeedback && len(p.texts) == 1:
		return `"" (the project shows one text: the completion)`
	case p.shape == hfFeedback:
		return "the item's " + hfFieldList(p.texts[:len(p.texts)-1]) + hfTextJoin(p.texts[:len(p.texts)-1])
	case p.conversational():
		return "the conversation in the item's field `" + hfCode(p.chat.Field) + "`"
	case len(p.texts) == 0:
		return `"" (the project shows no text besides the responses)`
	}
	return "the item's " + hfFieldList(p.texts) + hfTextJoin(p.texts)
}

func (w *hfWriter) completionText() string {
	p := w.plan
	if p.chat != nil && len(p.texts) == 0 {
		return "the conversation's last message, as a list of that one message"
	}
	return "the item's field `" + hfCode(p.texts[len(p.texts)-1]) + "`"
}

func (w *hfWriter) shapeText() string {
	p := w.plan
	switch p.shape {
	case hfPreference:
		if p.pairwise != nil {
			return fmt.Sprintf("Each row is a preference pair from pairwise block `%s` over the pair of fields `%s` (A) and `%s` (B): "+
				"the response the labeler preferred is `chosen`, the other `rejected`. Ties and both-bad answers say nothing about which is better and are left out (counted below).",
				hfCode(p.pairwise.Name), hfCode(p.pair.Left), hfCode(p.pair.Right))
		}
		return fmt.Sprintf("Each row is a preference pair from ranking block `%s` over the candidates in field `%s`: "+
			"a ranking of n candidates makes every pair of them, n(n-1)/2 rows, the better ranked one `chosen`.",
			hfCode(p.ranking.Name), hfCode(p.ranking.Field))
	case hfTokens:
		return fmt.Sprintf("Each row is the text of field `%s` as tokens with one BIO tag each, from spans block `%s`, tokenised and tagged as the `conll` format does: "+
			"a span that cuts a token tags the whole token, and where spans overlap a token stays in the span it is in until that span ends.",
			hfCode(p.spans.Field), hfCode(p.spans.Name))
	case hfFeedback:
		return fmt.Sprintf("Each row is one thumb on a completion, from thumbs block `%s`: a labeler's, or one that a model's user sent through Loupe's feedback API. "+
			"This is the unpaired preference format (as TRL's KTO trainer reads it): `label` is true for a good completion.", hfCode(p.thumbs.Name))
	case hfConversation:
		return fmt.Sprintf("Each row is the conversation of chat field `%s` with the labelers' answers as columns.", hfCode(p.chat.Field))
	}
	if p.label != nil {
		return fmt.Sprintf("Each row is an item with the answer of %s block `%s` as its label.", p.label.Common().Type, hfCode(p.label.Common().Name))
	}
	return "Each row is an item with one column per choice and multichoice block, named by the block, each an index into its options."
}

// labelsText lists the names of every class label column.
func (w *hfWriter) labelsText(b *bytes.Buffer) {
	p := w.plan
	type table struct {
		column, block string
		opts          blocks.Options
	}
	var tables []table
	if p.label != nil {
		col := "label"
		var opts blocks.Options
		switch l := p.label.(type) {
		case *blocks.Choice:
			opts = l.Options
		case *blocks.MultiChoice:
			col, opts = "labels", l.Options
		}
		tables = append(tables, table{col, p.label.Common().Name, opts})
	}
	for _, c := range p.columns {
		switch v := c.block.(type) {
		case *blocks.Choice:
			tables = append(tables, table{c.name, v.Name, v.Options})
		case *blocks.MultiChoice:
			tables = append(tables, table{c.name, v.Name, v.Options})
		}
	}
	if len(tables) == 0 && p.spans == nil {
		return
	}
	b.WriteString("\n## Labels\n")
	if p.spans != nil {
		fmt.Fprintf(b, "\n### `ner_tags` (spans block `%s`)\n\n| id | tag | label |\n| ---: | --- | --- |\n", hfCode(p.spans.Name))
		for i, t := range p.tags {
			name := "outside any span"
			if i > 0 {
				o := p.spans.Labels[(i-1)/2]
				name = hfMD(o.Text())
			}
			fmt.Fprintf(b, "| %d | %s | %s |\n", i, hfMD(t), name)
		}
	}
	for _, t := range tables {
		fmt.Fprintf(b, "\n### `%s` (block `%s`)\n\n| id | value | label |\n| ---: | --- | --- |\n", hfCode(t.column), hfCode(t.block))
		for i, o := range t.opts {
			fmt.Fprintf(b, "| %d | %s | %s |\n", i, hfMD(o.Value), hfMD(o.Text()))
		}
	}
}

// leftText says what the export does not hold.
func (w *hfWriter) leftText(b *bytes.Buffer) {
	p := w.plan
	if len(w.left) == 0 && len(p.left) == 0 {
		return
	}
	b.WriteString("\n## Left out\n\n")
	for _, reason := range sortedKeys(w.left) {
		fmt.Fprintf(b, "- %s: %s.\n", hfPlural(w.left[reason], "row", "rows"), reason)
	}
	if len(p.left) > 0 {
		q := make([]string, len(p.left))
		for i, v := range p.left {
			q[i] = fmt.Sprintf("`%s` (%s)", hfCode(v.Common().Name), v.Common().Type)
		}
		fmt.Fprintf(b, "- Blocks this shape of row has no column for: %s. The `jsonl` and `parquet` formats hold every block.\n", strings.Join(q, ", "))
	}
}

func hfPlural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func hfAggregateText(a string) string {
	switch a {
	case AggregateEvery:
		return "every: one row per annotation"
	case AggregateMajority:
		return "majority: per block, the value most labelers gave (a tie gives none)"
	case AggregateFinal:
		return "final: what reviewers decided"
	case AggregateLatest:
		return "latest: the annotation changed last"
	}
	return a
}

// yamlString writes s as a YAML scalar: bare when it cannot be read as
// anything but that string, else double-quoted (a JSON string is a valid
// YAML double-quoted scalar).
func hfYAML(s string) string {
	bare := s != "" && s == strings.TrimSpace(s)
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' ||
			i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '.' || r == ' ' || r == '/')
		if !ok {
			bare = false
			break
		}
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf":
		bare = false
	}
	if bare {
		return s
	}
	return string(hfQuote(s))
}

func hfQuote(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// mdText escapes text for a line or a table cell of Markdown.
func hfMD(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '!', '&':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode makes s safe inside a `code span` of a table cell.
func hfCode(s string) string {
	return strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
