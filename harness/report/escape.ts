/**
 * Escaping for every report format. Cell ids, messages, command output and policy YAML are untrusted text
 * (a policy name or a pod log can hold markup), so nothing reaches HTML, XML or Markdown unescaped.
 */

// XML 1.0 allows only #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
// (https://www.w3.org/TR/xml/#charsets): a raw ESC from ANSI-coloured output would make junit.xml unparsable.
const XML_INVALID = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text ?? '')
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Text for XML element content and attributes (JUnit). */
export function escapeXml(text: unknown): string {
  return String(text ?? '')
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Inline Markdown text (GitHub-flavoured, which also renders HTML): no markup, no table breaks. */
export function escapeMarkdown(text: unknown): string {
  return String(text ?? '')
    .replace(XML_INVALID, '\uFFFD')
    .replace(/\r?\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]{}()#+!|~])/g, '\\$1');
}

/** A fenced Markdown code block whose fence is longer than any backtick run inside the text. */
export function markdownCodeBlock(text: string, lang = ''): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text.replace(XML_INVALID, '\uFFFD')}\n${fence}`;
}

/** A safe anchor/id fragment for an untrusted id (HTML ids and hrefs). */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'x'
  );
}
