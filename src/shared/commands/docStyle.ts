// Doc comment conventions per language, for the Document action: what the prompt asks for (with a short
// example of the form), where the comment goes (above the declaration, or inside it as Python's docstring),
// how a model's answer is made into a well-formed comment of that kind, and how an existing doc comment is
// found so that it is replaced rather than doubled.

export type DocStyleName = 'jsdoc' | 'javadoc' | 'docstring' | 'doxygen' | 'rustdoc' | 'godoc' | 'xmldoc' | 'yard' | 'luadoc' | 'phpdoc' | 'kdoc' | 'swiftdoc' | 'hash';

export interface DocStyle {
  name: DocStyleName;
  /** How the prompt names the convention. */
  convention: string;
  placement: 'above' | 'inside';
  /** A skeleton of the form, shown to the model. */
  example: string;
}

const STYLES: Record<DocStyleName, DocStyle> = {
  jsdoc: { name: 'jsdoc', convention: 'a JSDoc comment (/** ... */ with @param and @returns tags)', placement: 'above', example: '/**\n * Summary sentence.\n *\n * @param name - what it is\n * @returns what it returns\n */' },
  javadoc: { name: 'javadoc', convention: 'a Javadoc comment (/** ... */ with @param, @return and @throws tags)', placement: 'above', example: '/**\n * Summary sentence.\n *\n * @param name what it is\n * @return what it returns\n */' },
  kdoc: { name: 'kdoc', convention: 'a KDoc comment (/** ... */ with @param and @return tags)', placement: 'above', example: '/**\n * Summary sentence.\n *\n * @param name what it is\n * @return what it returns\n */' },
  phpdoc: { name: 'phpdoc', convention: 'a PHPDoc comment (/** ... */ with @param type $name and @return type)', placement: 'above', example: '/**\n * Summary sentence.\n *\n * @param int $name what it is\n * @return string what it returns\n */' },
  docstring: { name: 'docstring', convention: 'a PEP 257 docstring in triple double quotes (Google style: Args:, Returns:, Raises:)', placement: 'inside', example: '"""Summary sentence.\n\nArgs:\n    name: what it is.\n\nReturns:\n    What it returns.\n"""' },
  doxygen: { name: 'doxygen', convention: 'a Doxygen comment (/** ... */ with @brief, @param and @return)', placement: 'above', example: '/**\n * @brief Summary sentence.\n *\n * @param name what it is\n * @return what it returns\n */' },
  rustdoc: { name: 'rustdoc', convention: 'a rustdoc comment (/// lines, Markdown, with # Errors or # Panics sections where they apply)', placement: 'above', example: '/// Summary sentence.\n///\n/// More detail.' },
  godoc: { name: 'godoc', convention: 'a Go doc comment (// lines starting with the name of the declaration)', placement: 'above', example: '// Name does this and returns that.' },
  xmldoc: { name: 'xmldoc', convention: 'a C# XML documentation comment (/// lines with <summary>, <param> and <returns>)', placement: 'above', example: '/// <summary>\n/// Summary sentence.\n/// </summary>\n/// <param name="name">What it is.</param>\n/// <returns>What it returns.</returns>' },
  yard: { name: 'yard', convention: 'a YARD comment (# lines with @param and @return tags)', placement: 'above', example: '# Summary sentence.\n#\n# @param name [Type] what it is\n# @return [Type] what it returns' },
  luadoc: { name: 'luadoc', convention: 'a LuaLS annotation comment (--- lines with @param and @return)', placement: 'above', example: '--- Summary sentence.\n---@param name type what it is\n---@return type what it returns' },
  swiftdoc: { name: 'swiftdoc', convention: 'a Swift documentation comment (/// lines with - Parameter and - Returns)', placement: 'above', example: '/// Summary sentence.\n///\n/// - Parameter name: What it is.\n/// - Returns: What it returns.' },
  hash: { name: 'hash', convention: 'a comment block of # lines describing purpose, arguments and output', placement: 'above', example: '# Summary sentence.\n# Arguments: ...\n# Outputs: ...' },
};

const BY_LANGUAGE: Record<string, DocStyleName> = {
  typescript: 'jsdoc',
  typescriptreact: 'jsdoc',
  javascript: 'jsdoc',
  javascriptreact: 'jsdoc',
  java: 'javadoc',
  scala: 'javadoc',
  groovy: 'javadoc',
  kotlin: 'kdoc',
  php: 'phpdoc',
  python: 'docstring',
  c: 'doxygen',
  cpp: 'doxygen',
  'cuda-cpp': 'doxygen',
  objectivec: 'doxygen',
  rust: 'rustdoc',
  go: 'godoc',
  csharp: 'xmldoc',
  fsharp: 'xmldoc',
  ruby: 'yard',
  lua: 'luadoc',
  swift: 'swiftdoc',
  dart: 'rustdoc',
  shellscript: 'hash',
  powershell: 'hash',
  perl: 'hash',
  r: 'hash',
};

export function docStyleFor(languageId: string): DocStyle {
  return STYLES[BY_LANGUAGE[languageId] ?? 'jsdoc'];
}

/**
 * The answer made into a comment of the style, without indentation: fences and surrounding prose are
 * already gone (extractCode); here a bare text is wrapped, and a whole declaration returned by mistake is
 * cut down to its leading comment or docstring.
 */
export function normalizeDocComment(text: string, style: DocStyle): string {
  let t = text.replace(/\s+$/, '').replace(/^\s*\n/, '');
  const lines = t.split('\n');
  switch (style.name) {
    case 'docstring': {
      const m = /("""|''')[\s\S]*?\1/.exec(t);
      if (m) return m[0];
      t = t.replace(/^\s*#\s?/gm, '').trim();
      return `"""${t.includes('\n') ? `${t}\n"""` : `${t}"""`}`;
    }
    case 'rustdoc':
    case 'xmldoc':
    case 'swiftdoc':
      return lineComment(lines, '///');
    case 'godoc':
      return lineComment(lines, '//');
    case 'yard':
    case 'hash':
      return lineComment(lines, '#');
    case 'luadoc':
      return lineComment(lines, '---');
    default: {
      const m = /\/\*\*[\s\S]*?\*\//.exec(t);
      if (m) return m[0];
      const body = lines.map((l) => l.replace(/^\s*(\/\/+|\*+|#)\s?/, '').trimEnd());
      while (body.length && !body[0]) body.shift();
      while (body.length && !body[body.length - 1]) body.pop();
      return ['/**', ...body.map((l) => (l ? ` * ${l}` : ' *')), ' */'].join('\n');
    }
  }
}

/** Leading comment lines kept (a declaration after them dropped), or every line prefixed. */
function lineComment(lines: readonly string[], prefix: string): string {
  const lead: string[] = [];
  for (const l of lines) {
    if (l.trimStart().startsWith(prefix)) lead.push(l.trim());
    else if (lead.length) break;
  }
  if (lead.length) return lead.join('\n');
  return lines
    .map((l) => l.replace(/^\s*(\/\/+|#+|-{2,3})\s?/, '').trimEnd())
    .map((l) => (l ? `${prefix} ${l}` : prefix))
    .join('\n');
}

/**
 * The lines of an existing doc comment of the declaration on `declLine` (0-based, inclusive range), if it
 * has one: directly above it for `above` styles, the docstring on the lines after the header for Python.
 */
export function existingDocComment(lines: readonly string[], declLine: number, style: DocStyle): { startLine: number; endLine: number } | undefined {
  if (style.placement === 'inside') {
    let i = declLine;
    while (i < lines.length && !/:\s*(#.*)?$/.test(lines[i])) i++;
    let j = i + 1;
    while (j < lines.length && !lines[j].trim()) j++;
    if (j >= lines.length || !/^\s*[rRbBuU]?("""|''')/.test(lines[j])) return undefined;
    const q = /("""|''')/.exec(lines[j])![1];
    const rest = lines[j].slice(lines[j].indexOf(q) + 3);
    if (rest.includes(q)) return { startLine: j, endLine: j };
    for (let k = j + 1; k < lines.length; k++) if (lines[k].includes(q)) return { startLine: j, endLine: k };
    return undefined;
  }
  let above = declLine - 1;
  // Decorators and attributes sit between a doc comment and its declaration.
  while (above >= 0 && /^\s*(@[\w.]+|#\[)/.test(lines[above])) above--;
  if (above < 0) return undefined;
  if (/\*\/\s*$/.test(lines[above])) {
    for (let k = above; k >= 0 && above - k < 500; k--) {
      if (/^\s*\/\*\*/.test(lines[k])) return { startLine: k, endLine: above };
      if (/^\s*\/\*(?!\*)/.test(lines[k])) return undefined;
    }
    return undefined;
  }
  const prefix = { rustdoc: '///', xmldoc: '///', swiftdoc: '///', godoc: '//', yard: '#', hash: '#', luadoc: '---' }[style.name as string];
  if (!prefix || !lines[above].trimStart().startsWith(prefix)) return undefined;
  let k = above;
  while (k > 0 && lines[k - 1].trimStart().startsWith(prefix)) k--;
  return { startLine: k, endLine: above };
}
