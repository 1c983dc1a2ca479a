// Tracing Dojo course: a TraceQL editor in place of every `textarea.traceql-input`.
//
// A progressive enhancement. The page's form works without this file: the textarea stays in
// the form (hidden) and is rewritten on every change, so the form submits exactly what the
// editor shows. Token colours are the course's own `hl-*` classes from course.css, the same
// ones the lessons' TraceQL code blocks use.
//
// Bundled by `npm run build` (build.mjs) into ../static/editor.js.

import { EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import {
  LRLanguage,
  LanguageSupport,
  bracketMatching,
  syntaxHighlighting,
} from "@codemirror/language";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { styleTags, tagHighlighter, tags as t } from "@lezer/highlight";
import { parser } from "@grafana/lezer-traceql";

// Node names as @grafana/lezer-traceql 1.0.0 builds them (`parser.nodeSet.types`). A tag
// colours the text of its node that no child node covers; `/...` passes it on to the children
// too, so `resource.service.name` (Resource, Identifier) is one attribute. Function words such
// as `count` or `by` are anonymous tokens in that grammar, so they get their colour from the
// call node (`count()`, `by(...)`), whose arguments keep their own.
const traceqlTags = styleTags({
  IntrinsicField: t.keyword,
  "AttributeField/...": t.attributeName,
  String: t.string,
  "Integer Float Duration": t.number,
  Static: t.atom,
  "LineComment BlockComment": t.comment,
  "FieldOp ScalarOp ComparisonOp And Or Gt Lt Desc Anc Pipe ExperimentalOp UnionStructuralOp":
    t.operator,
  "Aggregate AggregateExpression GroupOperation SelectOperation CoalesceOperation With":
    t.function(t.variableName),
  "MetricsOperationBasicType MetricsOverTimeType MetricsAggregatorFunctionType":
    t.function(t.variableName),
  "MetricsOperationHistogram MetricsOperationQuantile MetricsOperationCompare":
    t.function(t.variableName),
});

const traceqlLanguage = LRLanguage.define({
  name: "traceql",
  parser: parser.configure({ props: [traceqlTags] }),
  languageData: {
    commentTokens: { line: "//" },
    closeBrackets: { brackets: ["(", "[", "{", '"', "`"] },
  },
});

// The classes of course.css (`.hl-kw` and friends).
const courseClasses = tagHighlighter([
  { tag: t.keyword, class: "hl-kw" },
  { tag: t.attributeName, class: "hl-attr" },
  { tag: t.string, class: "hl-str" },
  { tag: t.number, class: "hl-num" },
  { tag: t.atom, class: "hl-lit" },
  { tag: t.comment, class: "hl-com" },
  { tag: t.operator, class: "hl-op" },
  { tag: t.function(t.variableName), class: "hl-fn" },
]);

function traceql() {
  return new LanguageSupport(traceqlLanguage, [syntaxHighlighting(courseClasses)]);
}

// Dark like the code blocks (`pre` in course.css), so the token colours read the same.
const courseTheme = EditorView.theme(
  {
    "&": {
      backgroundColor: "#0f1724",
      color: "#e6edf3",
      border: "1px solid #b8c0cc",
      borderRadius: "4px",
      fontSize: "0.92em",
    },
    "&.cm-focused": { outline: "2px solid var(--accent, #3b6fb6)", outlineOffset: "1px" },
    ".cm-scroller": {
      fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
      lineHeight: "1.55",
    },
    ".cm-content": { minHeight: "4.65em", padding: "0.35rem 0" },
    ".cm-line": { padding: "0 0.5rem" },
  },
  { dark: true },
);

function enhance(textarea) {
  const form = textarea.form;
  const submit = () => {
    if (form) form.requestSubmit();
    return true;
  };
  // The label names the editor for assistive technology and focuses it when clicked.
  const label = textarea.labels && textarea.labels[0];
  const contentAttributes = { spellcheck: "false", title: "Ctrl+Enter to submit" };
  if (label) {
    if (!label.id) label.id = `${textarea.id || "traceql"}-label`;
    contentAttributes["aria-labelledby"] = label.id;
  } else if (textarea.getAttribute("aria-label")) {
    contentAttributes["aria-label"] = textarea.getAttribute("aria-label");
  }
  if (textarea.required) contentAttributes["aria-required"] = "true";

  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        // Ctrl+Enter / Cmd+Enter submits, ahead of the default keymap's "insert blank line".
        Prec.highest(keymap.of([{ key: "Mod-Enter", run: submit }, { key: "Ctrl-Enter", run: submit }])),
        history(),
        closeBrackets(),
        bracketMatching(),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap]),
        EditorView.lineWrapping,
        EditorView.contentAttributes.of(contentAttributes),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
        traceql(),
        courseTheme,
      ],
    }),
  });
  // The textarea stays in the form as the value that is submitted; course.js's Ctrl+Enter
  // listener sits on it and never fires while it is hidden, so a form is submitted once.
  textarea.hidden = true;
  textarea.after(view.dom);
  if (label) label.addEventListener("click", () => view.focus());
  // An empty required answer: the browser cannot point at a hidden textarea, so point at the editor.
  textarea.addEventListener("invalid", () => view.focus());
  if (textarea.autofocus) view.focus();
}

for (const textarea of document.querySelectorAll("textarea.traceql-input")) {
  enhance(textarea);
}
