import { DecodeError } from '../../core/errors.js';

/**
 * A deliberately small, strict XML reader for the AnyConnect auth exchange (no external library).
 * It supports what openconnect's libxml2 and AnyConnect clients emit: an optional XML declaration,
 * elements, attributes, text, the five predefined entities, character references, comments and
 * CDATA. It refuses everything that makes XML dangerous to parse: any DOCTYPE (so no internal or
 * external entities: no XXE, no billion laughs), processing instructions, unknown entities, and it
 * bounds size, depth, element count, attribute count and name length.
 */
export interface XmlElement {
  name: string;
  attributes: ReadonlyMap<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (not its children's). */
  text: string;
}

export interface XmlLimits {
  /** Largest document in UTF-8 bytes. */
  maxBytes: number;
  maxDepth?: number;
  maxElements?: number;
  maxAttributes?: number;
}

const DEFAULT_MAX_DEPTH = 16;
const DEFAULT_MAX_ELEMENTS = 256;
const DEFAULT_MAX_ATTRIBUTES = 16;
const MAX_NAME_LENGTH = 64;

const NAME = /[A-Za-z_][A-Za-z0-9._:-]*/y;
const WHITESPACE = /[ \t\n]*/y;
/** Characters XML 1.0 forbids anywhere (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/F). */
const FORBIDDEN_CHARACTER = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const XML_DECLARATION = /<\?xml(?:[ \t\n]+[A-Za-z]+[ \t\n]*=[ \t\n]*(?:"[^"<]*"|'[^'<]*'))*[ \t\n]*\?>/y;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export function readXml(input: string, limits: XmlLimits): XmlElement {
  // A string longer than maxBytes in UTF-16 units is longer in UTF-8 too: refuse before scanning it.
  if (input.length > limits.maxBytes || Buffer.byteLength(input, 'utf8') > limits.maxBytes) {
    throw new DecodeError(`XML document larger than ${limits.maxBytes} bytes`);
  }
  if (FORBIDDEN_CHARACTER.test(input)) throw new DecodeError('XML document contains a forbidden character');
  return new XmlReader(input.replace(/\r\n?/g, '\n'), limits).document();
}

class XmlReader {
  private pos = 0;
  private elements = 0;
  private readonly maxDepth: number;
  private readonly maxElements: number;
  private readonly maxAttributes: number;

  constructor(
    private readonly src: string,
    limits: XmlLimits,
  ) {
    this.maxDepth = limits.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxElements = limits.maxElements ?? DEFAULT_MAX_ELEMENTS;
    this.maxAttributes = limits.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
  }

  document(): XmlElement {
    if (this.src.startsWith('\uFEFF')) this.pos = 1;
    XML_DECLARATION.lastIndex = this.pos;
    if (this.src.startsWith('<?xml', this.pos) && XML_DECLARATION.test(this.src)) {
      const declaration = this.src.slice(this.pos, XML_DECLARATION.lastIndex);
      const encoding = /encoding[ \t\n]*=[ \t\n]*["']([^"']*)["']/.exec(declaration)?.[1];
      if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
        throw new DecodeError(`XML encoding ${encoding} is not supported`);
      }
      this.pos = XML_DECLARATION.lastIndex;
    }
    this.misc();
    if (!this.src.startsWith('<', this.pos)) throw this.error('expected the root element');
    const root = this.element(1);
    this.misc();
    if (this.pos !== this.src.length) throw this.error('content after the root element');
    return root;
  }

  /** Whitespace and comments between the top-level constructs. */
  private misc(): void {
    for (;;) {
      this.skipWhitespace();
      if (this.src.startsWith('<!--', this.pos)) this.comment();
      else if (this.src.startsWith('<!', this.pos))
        throw this.error('DOCTYPE and declarations are not allowed');
      else if (this.src.startsWith('<?', this.pos))
        throw this.error('processing instructions are not allowed');
      else return;
    }
  }

  private element(depth: number): XmlElement {
    if (depth > this.maxDepth) throw this.error(`elements nested deeper than ${this.maxDepth}`);
    if (++this.elements > this.maxElements) throw this.error(`more than ${this.maxElements} elements`);
    this.pos++; // '<'
    const name = this.name();
    const attributes = new Map<string, string>();
    for (;;) {
      const before = this.pos;
      this.skipWhitespace();
      if (this.src.startsWith('/>', this.pos)) {
        this.pos += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (this.src.startsWith('>', this.pos)) {
        this.pos++;
        break;
      }
      if (this.pos === before) throw this.error('expected whitespace, an attribute, ">" or "/>"');
      const attribute = this.name();
      this.skipWhitespace();
      if (this.src[this.pos] !== '=') throw this.error(`attribute ${attribute} without a value`);
      this.pos++;
      this.skipWhitespace();
      if (attributes.has(attribute)) throw this.error(`duplicate attribute ${attribute}`);
      if (attributes.size >= this.maxAttributes)
        throw this.error(`more than ${this.maxAttributes} attributes`);
      attributes.set(attribute, this.attributeValue());
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      const lt = this.src.indexOf('<', this.pos);
      if (lt < 0) throw this.error(`unclosed element ${name}`);
      text += this.decodeText(this.src.slice(this.pos, lt));
      this.pos = lt;
      if (this.src.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.name();
        if (closing !== name) throw this.error(`</${closing}> closes <${name}>`);
        this.skipWhitespace();
        if (this.src[this.pos] !== '>') throw this.error('expected ">"');
        this.pos++;
        return { name, attributes, children, text };
      }
      if (this.src.startsWith('<!--', this.pos)) this.comment();
      else if (this.src.startsWith('<![CDATA[', this.pos)) text += this.cdata();
      else if (this.src.startsWith('<!', this.pos)) throw this.error('declarations are not allowed');
      else if (this.src.startsWith('<?', this.pos))
        throw this.error('processing instructions are not allowed');
      else children.push(this.element(depth + 1));
    }
  }

  private name(): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.src);
    if (!match) throw this.error('expected a name');
    if (match[0].length > MAX_NAME_LENGTH) throw this.error('name too long');
    this.pos = NAME.lastIndex;
    return match[0];
  }

  private attributeValue(): string {
    const quote = this.src[this.pos];
    if (quote !== '"' && quote !== "'") throw this.error('expected a quoted attribute value');
    const end = this.src.indexOf(quote, this.pos + 1);
    if (end < 0) throw this.error('unterminated attribute value');
    const raw = this.src.slice(this.pos + 1, end);
    if (raw.includes('<')) throw this.error('"<" in an attribute value');
    this.pos = end + 1;
    // XML attribute-value normalisation: literal tab and newline become spaces.
    return this.decodeText(raw.replace(/[\t\n]/g, ' '));
  }

  private comment(): void {
    const end = this.src.indexOf('-->', this.pos + 4);
    if (end < 0) throw this.error('unterminated comment');
    this.pos = end + 3;
  }

  private cdata(): string {
    const start = this.pos + '<![CDATA['.length;
    const end = this.src.indexOf(']]>', start);
    if (end < 0) throw this.error('unterminated CDATA section');
    this.pos = end + 3;
    return this.src.slice(start, end);
  }

  /** Resolves the five predefined entities and character references; anything else is refused. */
  private decodeText(raw: string): string {
    if (!raw.includes('&')) return raw;
    return raw.replace(/&([^;&]{0,10});?/g, (whole, body: string) => {
      if (!whole.endsWith(';')) throw this.error('"&" not starting a reference');
      if (Object.hasOwn(PREDEFINED, body)) return PREDEFINED[body]!;
      const code = /^#[0-9]{1,7}$/.test(body)
        ? Number(body.slice(1))
        : /^#x[0-9A-Fa-f]{1,6}$/.test(body)
          ? Number.parseInt(body.slice(2), 16)
          : Number.NaN;
      if (Number.isNaN(code)) throw this.error(`entity &${body}; is not allowed`);
      const char = code <= 0x10ffff ? String.fromCodePoint(code) : '';
      if (char === '' || FORBIDDEN_CHARACTER.test(char))
        throw this.error(`character reference &${body}; is not allowed`);
      return char;
    });
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.test(this.src);
    this.pos = WHITESPACE.lastIndex;
  }

  private error(message: string): DecodeError {
    return new DecodeError(`malformed XML at offset ${this.pos}: ${message}`);
  }
}
