// The chat's markdown renderer and sanitizer (src/shared/chatMarkdown.ts) on jsdom's DOM: rendering, code
// highlighting, SVG pictures, and an XSS payload corpus that must come out inert. The e2e UI phase runs a
// hostile payload through the same code in the real webview (chromium) as well.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JSDOM } from 'jsdom';
import { createMarkdownRenderer } from '../../src/shared/chatMarkdown';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
const md = createMarkdownRenderer(dom.window as unknown as Parameters<typeof createMarkdownRenderer>[0]);

function parse(html: string): HTMLElement {
  const div = dom.window.document.createElement('div');
  div.innerHTML = html;
  return div as unknown as HTMLElement;
}

/** Everything that could run code, load something, or navigate, found in rendered HTML. */
function hazards(root: HTMLElement): string[] {
  const found: string[] = [];
  const all = [root, ...Array.from(root.querySelectorAll('*'))] as Element[];
  const badTags = new Set(['SCRIPT', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'FORM', 'INPUT', 'BUTTON', 'TEXTAREA', 'SELECT', 'LINK', 'META', 'STYLE', 'BASE', 'SVG', 'MATH', 'AUDIO', 'VIDEO', 'SOURCE', 'TEMPLATE', 'FOREIGNOBJECT', 'ANIMATE', 'SET', 'USE', 'PORTAL', 'DIALOG']);
  for (const e of all) {
    if (e === root) continue;
    if (badTags.has(e.tagName.toUpperCase())) found.push(`<${e.tagName.toLowerCase()}>`);
    for (const a of Array.from(e.attributes)) {
      const name = a.name.toLowerCase();
      const value = a.value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(`${e.tagName.toLowerCase()}[${name}]`);
      if (name === 'style' || name === 'srcset' || name === 'formaction' || name === 'action' || name === 'xlink:href' || name === 'id' || name === 'name') found.push(`${e.tagName.toLowerCase()}[${name}]`);
      if ((name === 'href' || name === 'src') && !/^(https?:|mailto:|data:image\/svg\+xml;charset=utf-8,)/.test(value)) found.push(`${e.tagName.toLowerCase()}[${name}=${value.slice(0, 30)}]`);
      if (name === 'src' && e.tagName !== 'IMG') found.push(`${e.tagName.toLowerCase()}[src]`);
    }
  }
  return found;
}

/** Payloads from the usual XSS cheat sheets, in and around markdown constructs. */
const XSS_CORPUS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<a href="javascript:alert(1)">x</a>',
  '[click](javascript:alert(1))',
  '[click](JaVaScRiPt:alert(1))',
  '[click](java\tscript:alert(1))',
  '[click](&#106;avascript:alert(1))',
  '[click](vbscript:msgbox(1))',
  '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[click](file:///etc/passwd)',
  '[click](command:workbench.action.terminal.new)',
  '![x](javascript:alert(1))',
  '![x](https://evil.example/track.png)',
  '![x" onerror="alert(1)](x)',
  '<details open ontoggle=alert(1)>',
  '<body onload=alert(1)>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<form action="javascript:alert(1)"><button>go</button></form>',
  '<input autofocus onfocus=alert(1)>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="javascript:alert(1)">',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<link rel=stylesheet href="https://evil.example/x.css">',
  '<style>@import "https://evil.example/x.css";</style>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  '<base href="https://evil.example/">',
  '<template><script>alert(1)</script></template>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '`<img src=x onerror=alert(1)>`',
  '```html\n<script>alert(1)</script>\n```',
  '```"><img src=x onerror=alert(1)>\ncode\n```',
  '```svg\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script><foreignObject><iframe src="javascript:alert(1)"></iframe></foreignObject><a href="javascript:alert(1)"><text>x</text></a><image href="https://evil.example/x.png"/><use href="data:image/svg+xml,<svg id=\'x\' onload=\'alert(1)\'/>#x"/><rect width="10" height="10" style="fill:url(https://evil.example/)"/></svg>\n```',
  '```mermaid\ngraph TD; A-->B; click A "javascript:alert(1)"\n```',
  '<a href="https://ok.example" onclick="alert(1)">ok</a>',
  '[ok](https://ok.example "title\\" onmouseover=\\"alert(1)")',
  '<https://ok.example/"onmouseover="alert(1)>',
  '<!-- <img src=x onerror=alert(1)> -->',
  '<![CDATA[<img src=x onerror=alert(1)>]]>',
  '<IMG SRC=JaVaScRiPt:alert(1)>',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '\u0000<script>alert(1)</script>',
  '| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |',
  '> <svg/onload=alert(1)>',
  '* <a href=javascript:alert(1)>list</a>',
  '# <img src=x onerror=alert(1)>',
  '<video><source onerror="alert(1)"></video>',
  '<select autofocus onfocus=alert(1)>',
  '<isindex action=javascript:alert(1) type=submit>',
  '<a id="x" name="y">clobber</a>',
  '<p id="app">clobber the app</p>',
];

test('XSS corpus: every payload renders inert', () => {
  // the detector itself finds what it looks for
  assert.deepEqual(hazards(parse('<img src=x onerror=alert(1)><a href="javascript:x">l</a>')), ['img[src=x]', 'img[onerror]', 'a[href=javascript:x]']);
  for (const payload of XSS_CORPUS) {
    const html = md.render(payload);
    const found = hazards(parse(html));
    assert.deepEqual(found, [], `payload ${JSON.stringify(payload)} left ${found.join(', ')} in ${html}`);
    // and inside a longer answer, after a trace-like preamble
    const mixed = md.render(`Here is the answer:\n\n${payload}\n\nDone.`);
    assert.deepEqual(hazards(parse(mixed)), [], `payload in context ${JSON.stringify(payload)}`);
  }
});

test('raw HTML is shown as text, not markup', () => {
  const html = md.render('<b>bold?</b> and <script>x</script>');
  assert.ok(html.includes('&lt;b&gt;bold?&lt;/b&gt;'), html);
  assert.ok(!/<b>/.test(html));
});

test('markdown renders: emphasis, lists, tables, links (web only), images as their text', () => {
  const root = parse(md.render('**bold** *it* `code`\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n[site](https://example.com) ![logo](https://example.com/x.png)'));
  assert.equal(root.querySelector('strong')?.textContent, 'bold');
  assert.equal(root.querySelectorAll('li').length, 2);
  assert.equal(root.querySelectorAll('td').length, 2);
  assert.equal(root.querySelector('a')?.getAttribute('href'), 'https://example.com');
  assert.equal(root.querySelector('img'), null, 'no remote image');
  assert.equal(root.querySelector('.image-alt')?.textContent, 'logo');
});

test('code blocks: highlighted, language kept, text intact', () => {
  const src = 'function f(a: number): string {\n  return `${a}` + "<b>";\n}';
  const root = parse(md.render('```ts\n' + src + '\n```'));
  const block = root.querySelector('.code-block') as HTMLElement;
  assert.ok(block, 'a code block');
  assert.equal(block.getAttribute('data-lang'), 'ts');
  const code = block.querySelector('code')!;
  assert.ok(code.className.includes('language-ts'), code.className);
  assert.ok(code.querySelector('.hljs-keyword'), 'keywords highlighted');
  assert.equal(code.textContent, src + '\n', 'the code text is unchanged');
  const plain = parse(md.render('```\nno language <here>\n```'));
  assert.equal(plain.querySelector('code')?.textContent, 'no language <here>\n');
  const unknown = parse(md.render('```brainfuck\n+++.\n```'));
  assert.equal(unknown.querySelector('code')?.textContent, '+++.\n');
});

test('SVG blocks become a sanitized picture (data URI in an <img>), with the source beside it', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" onload="alert(1)"><script>alert(1)</script><circle cx="10" cy="10" r="8" fill="red"/></svg>';
  const root = parse(md.render('A sketch:\n\n```svg\n' + svg + '\n```'));
  const img = root.querySelector('img.svg-picture') as HTMLImageElement;
  assert.ok(img, 'a picture');
  const src = img.getAttribute('src')!;
  assert.ok(src.startsWith('data:image/svg+xml;charset=utf-8,'), src);
  const drawn = decodeURIComponent(src.slice(src.indexOf(',') + 1));
  assert.ok(drawn.includes('<circle'), drawn);
  assert.ok(!/script|onload|alert/i.test(drawn), drawn);
  assert.ok(root.querySelector('.code-block.code-source'), 'source kept (folded in the view)');
  // an svg in an xml block is a picture too; a broken one stays code
  assert.ok(parse(md.render('```xml\n<svg viewBox="0 0 1 1"><rect width="1" height="1"/></svg>\n```')).querySelector('img.svg-picture'));
  assert.equal(parse(md.render('```svg\nnot svg at all\n```')).querySelector('img'), null);
  assert.equal(md.sanitizeSvg('<svg><foreignObject><div>x</div></foreignObject></svg>').includes('foreignObject'), false);
});

test('mermaid blocks are shown as source with a note (no renderer under this CSP)', () => {
  const root = parse(md.render('```mermaid\ngraph TD; A-->B\n```'));
  assert.ok(root.querySelector('.diagram-note'));
  assert.equal(root.querySelector('code')?.textContent, 'graph TD; A-->B\n');
});
