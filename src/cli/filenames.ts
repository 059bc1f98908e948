/**
 * File names for saved bodies, derived from URLs so that they are safe on any file system:
 * only `[A-Za-z0-9._-]`, never a path separator, never `.` or `..` or a leading dot, bounded
 * in length, and unique (a hash of the whole URL, and a counter should two names still meet).
 */
import { createHash } from 'node:crypto';

/** Most characters of the readable part of a name (the hash and extension come on top). */
const MAX_STEM = 96;

/**
 * The extension for a Content-Type, for a URL whose path has none: common types only; any
 * other type gives no extension.
 */
const EXTENSIONS: Readonly<Record<string, string>> = {
  'text/html': 'html',
  'application/xhtml+xml': 'xhtml',
  'text/plain': 'txt',
  'text/css': 'css',
  'text/csv': 'csv',
  'text/markdown': 'md',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'text/javascript': 'js',
  'application/javascript': 'js',
  'application/json': 'json',
  'application/ld+json': 'jsonld',
  'application/manifest+json': 'webmanifest',
  'application/rss+xml': 'rss',
  'application/atom+xml': 'atom',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/gzip': 'gz',
  'application/wasm': 'wasm',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/avif': 'avif',
  'image/svg+xml': 'svg',
  'image/x-icon': 'ico',
  'image/vnd.microsoft.icon': 'ico',
  'font/woff': 'woff',
  'font/woff2': 'woff2',
  'audio/mpeg': 'mp3',
  'video/mp4': 'mp4',
};

/**
 * The extension (without the dot) {@link EXTENSIONS} gives `contentType`, ignoring its
 * parameters and case; `undefined` for an absent or unknown type.
 *
 * @example extensionForType('Text/HTML; charset=utf-8') → `html`
 */
export function extensionForType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return Object.hasOwn(EXTENSIONS, essence) ? EXTENSIONS[essence] : undefined;
}

/**
 * The safe name for `url`, without uniqueness across calls (see {@link FileNamer}):
 * `host_port_path_segments_query-<10 hex of sha256(url)>[.ext]`. The extension is the URL's
 * own; when the path has none, it comes from `contentType` (see {@link extensionForType}).
 *
 * @example `http://127.0.0.1:8080/a/../b/page.html?x=1` → `127.0.0.1_8080_b_page_x_1-<hash>.html`
 * @example `http://127.0.0.1:8080/api/users` with `application/json` → `127.0.0.1_8080_api_users-<hash>.json`
 */
export function fileNameForUrl(url: URL, contentType?: string): string {
  const hash = createHash('sha256').update(url.href).digest('hex').slice(0, 10);
  const last = url.pathname.split('/').pop() ?? '';
  const extMatch = /\.([A-Za-z0-9]{1,8})$/.exec(last);
  const extension = extMatch === null ? extensionForType(contentType) : extMatch[1]!.toLowerCase();
  const ext = extension === undefined ? '' : `.${extension}`;
  const path = extMatch === null ? url.pathname : url.pathname.slice(0, -extMatch[0].length);
  const readable = [url.hostname, url.port, path, url.search.slice(1)]
    .join('_')
    .replace(/[^A-Za-z0-9.-]+/g, '_') // anything odd, separators included, becomes "_"
    .replace(/\.{2,}/g, '.') // no ".." anywhere
    .replace(/[._-]*_[._-]*/g, '_') // a run of punctuation around a "_" is one "_"
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, MAX_STEM)
    .replace(/[._-]+$/, '');
  return `${readable === '' ? 'url' : readable}-${hash}${ext}`;
}

/** Hands out unique safe names: the same URL twice gets `name`, then `name_2`, ... */
export class FileNamer {
  readonly #used = new Set<string>();

  /** A name no earlier call returned (`contentType` as for {@link fileNameForUrl}). */
  next(url: URL, contentType?: string): string {
    const name = fileNameForUrl(url, contentType);
    if (!this.#used.has(name)) {
      this.#used.add(name);
      return name;
    }
    const dot = name.lastIndexOf('.');
    const [stem, ext] =
      dot > name.lastIndexOf('-') ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 2; ; n++) {
      const candidate = `${stem}_${n}${ext}`;
      if (!this.#used.has(candidate)) {
        this.#used.add(candidate);
        return candidate;
      }
    }
  }
}
