// Markdown of answers and traces -> sanitized HTML, for the chat webview. markdown-it with raw HTML off
// (model output never becomes markup by itself), highlight.js for code blocks, SVG blocks shown as pictures,
// and DOMPurify over the whole result (the last word: whatever the renderer let through, only an allow-list
// of plain HTML is kept). Needs a DOM window for DOMPurify: the webview's own, or jsdom's in unit tests.
import createDOMPurify, { type DOMPurify, type WindowLike } from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import MarkdownIt from 'markdown-it';

const LANGUAGES = { bash, c, cpp, csharp, css, diff, go, java, javascript, json, markdown, python, rust, shell, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, lang);

/** Tags kept in rendered markdown; anything else (script, iframe, form, svg, style, img from outside …) goes. */
const ALLOWED_TAGS = [
  'a', 'b', 'blockquote', 'br', 'code', 'del', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img',
  'li', 'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'src', 'alt', 'start', 'data-lang', 'data-kind', 'colspan', 'rowspan', 'align'];
/** Links: web and mail only. Pictures: only the SVG data URIs this renderer makes. */
const SAFE_LINK = /^(?:https?:|mailto:)/i;
const SVG_DATA_URI = /^data:image\/svg\+xml;charset=utf-8,/;

export interface MarkdownRenderer {
  /** Markdown -> sanitized HTML. */
  render(markdownText: string): string;
  /** An SVG document -> sanitized SVG text (scripts, handlers, external references and foreign content removed). */
  sanitizeSvg(svg: string): string;
}

export function createMarkdownRenderer(window: WindowLike): MarkdownRenderer {
  const purify: DOMPurify = createDOMPurify(window);
  purify.addHook('uponSanitizeAttribute', (node, data) => {
    if (data.attrName === 'href' && !SAFE_LINK.test(data.attrValue.trim())) data.keepAttr = false;
    if (data.attrName === 'src' && (node.nodeName !== 'IMG' || !SVG_DATA_URI.test(data.attrValue))) data.keepAttr = false;
    if (data.attrName === 'class' && !/^[\w\- ]*$/.test(data.attrValue)) data.keepAttr = false;
  });

  const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: false });
  // Images from the model's markdown would load remote content: show their text instead.
  md.renderer.rules.image = (tokens, idx) => {
    const t = tokens[idx];
    const alt = t.children ? md.renderer.renderInlineAsText(t.children, md.options, {}) : t.content;
    return `<span class="image-alt">${md.utils.escapeHtml(alt || '[image]')}</span>`;
  };
  md.renderer.rules.fence = (tokens, idx) => {
    const t = tokens[idx];
    const lang = (t.info || '').trim().split(/\s+/)[0].toLowerCase().replace(/[^\w+#-]/g, '');
    const code = t.content;
    if (lang === 'svg' || ((lang === 'xml' || lang === 'html' || lang === '') && /^\s*<svg[\s>]/i.test(code))) {
      const svg = sanitizeSvg(code);
      if (svg) {
        const uri = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
        return `<div class="svg-figure" data-kind="svg"><img class="svg-picture" alt="SVG drawing" src="${md.utils.escapeHtml(uri)}"></div>${codeBlock(code, 'xml', 'svg', true)}`;
      }
    }
    if (lang === 'mermaid') {
      // Not rendered: mermaid cannot run under this view's CSP (it writes inline styles) and is ~3 MB.
      return `<div class="diagram-note">Mermaid diagram (shown as source)</div>${codeBlock(code, '', 'mermaid', false)}`;
    }
    return codeBlock(code, lang, lang, false);
  };

  function codeBlock(code: string, hlLang: string, label: string, folded: boolean): string {
    let body: string;
    const language = hlLang && hljs.getLanguage(hlLang) ? hlLang : '';
    try {
      body = language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : md.utils.escapeHtml(code);
    } catch {
      body = md.utils.escapeHtml(code);
    }
    const cls = `code-block${folded ? ' code-source' : ''}`;
    return `<div class="${cls}" data-lang="${md.utils.escapeHtml(label)}"><pre><code class="hljs${language ? ` language-${language}` : ''}">${body}</code></pre></div>`;
  }

  function sanitizeSvg(svg: string): string {
    const clean = purify.sanitize(svg, {
      USE_PROFILES: { svg: true, svgFilters: true },
      FORBID_TAGS: ['foreignObject', 'script', 'style', 'a', 'image', 'use', 'animate', 'set', 'animateMotion', 'animateTransform'],
      FORBID_ATTR: ['href', 'xlink:href', 'style'],
      // keep the result a string for the data URI
      RETURN_TRUSTED_TYPE: false,
    }) as string;
    return /^\s*<svg[\s>]/i.test(clean) ? clean : '';
  }

  return {
    render(markdownText: string): string {
      const html = md.render(markdownText);
      return purify.sanitize(html, {
        ALLOWED_TAGS,
        ALLOWED_ATTR,
        ALLOW_DATA_ATTR: false,
        ALLOW_ARIA_ATTR: false,
        RETURN_TRUSTED_TYPE: false,
      }) as string;
    },
    sanitizeSvg,
  };
}

/** The languages highlighted in code blocks (aliases too: ts, js, py, sh …). */
export function highlightedLanguages(): string[] {
  return hljs.listLanguages();
}
