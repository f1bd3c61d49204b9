// The catalogue of known good GGUF files: where each is downloaded from, its size and SHA-256. An entry
// without a published checksum here is checked against the one the server states for the file
// (Hugging Face sends the LFS object's SHA-256 as X-Linked-Etag on the redirect of a /resolve/ URL): the
// downloader refuses to keep a file whose hash matches neither. Pinned revisions (a commit instead of
// `main`) keep a URL's bytes fixed, so that the size and hash here stay true.

export interface CatalogEntry {
  id: string;
  /** Shown in the picker. */
  label: string;
  description: string;
  url: string;
  /** File name in the models folder. */
  fileName: string;
  /** Exact bytes when known (pinned revision), else an approximation for the picker (`approximate`). */
  sizeBytes: number;
  approximate?: boolean;
  /** Lowercase hex; absent: the server's stated hash is used. */
  sha256?: string;
  architecture: string;
  quantization: string;
  /** The model reasons (think tags) and chats. */
  reasoning: boolean;
  /** Trained for fill-in-the-middle (its vocabulary has FIM tokens): the one to pick for inline completions. */
  fim?: boolean;
}

export const CATALOG: readonly CatalogEntry[] = [
  // Nemotron: only the 8B Reasoning Q4_K_M has a pinned SHA-256 (its Hugging Face file page at the pinned
  // commit). For the Nano 9B v2 files and the 8B Q8_0 no checksum from a source we trust was found (Hugging
  // Face file pages searched, issue 11): they are verified against the hash Hugging Face states for the file
  // (X-Linked-Etag) and their size at download time. No hash is made up here; pin one (and the commit in
  // the URL) when it is read from the file's page.
  {
    id: 'nemotron-nano-9b-v2-q4_k_m',
    label: 'NVIDIA Nemotron Nano 9B v2 — Q4_K_M',
    description: 'reasoning + chat, 128k context; the recommended size for 8 GB GPUs and for CPUs',
    url: 'https://huggingface.co/bartowski/nvidia_NVIDIA-Nemotron-Nano-9B-v2-GGUF/resolve/main/nvidia_NVIDIA-Nemotron-Nano-9B-v2-Q4_K_M.gguf',
    fileName: 'nvidia_NVIDIA-Nemotron-Nano-9B-v2-Q4_K_M.gguf',
    sizeBytes: 6_500_000_000,
    approximate: true,
    architecture: 'nemotron_h',
    quantization: 'Q4_K_M',
    reasoning: true,
  },
  {
    id: 'nemotron-nano-9b-v2-q8_0',
    label: 'NVIDIA Nemotron Nano 9B v2 — Q8_0',
    description: 'reasoning + chat, 128k context; near-lossless, for 12 GB GPUs and up',
    url: 'https://huggingface.co/bartowski/nvidia_NVIDIA-Nemotron-Nano-9B-v2-GGUF/resolve/main/nvidia_NVIDIA-Nemotron-Nano-9B-v2-Q8_0.gguf',
    fileName: 'nvidia_NVIDIA-Nemotron-Nano-9B-v2-Q8_0.gguf',
    sizeBytes: 9_500_000_000,
    approximate: true,
    architecture: 'nemotron_h',
    quantization: 'Q8_0',
    reasoning: true,
  },
  {
    id: 'nemotron-h-8b-reasoning-q4_k_m',
    label: 'NVIDIA Nemotron-H 8B Reasoning 128K — Q4_K_M',
    description: 'reasoning + chat; pinned revision with a published checksum',
    url: 'https://huggingface.co/bartowski/nvidia_Nemotron-H-8B-Reasoning-128K-GGUF/resolve/cf45b6ff44dcd5c2105a23abeb9e77797f1a4014/nvidia_Nemotron-H-8B-Reasoning-128K-Q4_K_M.gguf',
    fileName: 'nvidia_Nemotron-H-8B-Reasoning-128K-Q4_K_M.gguf',
    sizeBytes: 4_983_360_480,
    sha256: '312ebd50999058707868f49011d87225fcc92af0f5a526cd3553f821dc161956',
    architecture: 'nemotron_h',
    quantization: 'Q4_K_M',
    reasoning: true,
  },
  {
    id: 'nemotron-h-8b-reasoning-q8_0',
    label: 'NVIDIA Nemotron-H 8B Reasoning 128K — Q8_0',
    description: 'reasoning + chat; near-lossless, for 12 GB GPUs and up',
    url: 'https://huggingface.co/bartowski/nvidia_Nemotron-H-8B-Reasoning-128K-GGUF/resolve/cf45b6ff44dcd5c2105a23abeb9e77797f1a4014/nvidia_Nemotron-H-8B-Reasoning-128K-Q8_0.gguf',
    fileName: 'nvidia_Nemotron-H-8B-Reasoning-128K-Q8_0.gguf',
    sizeBytes: 8_620_000_000,
    approximate: true,
    architecture: 'nemotron_h',
    quantization: 'Q8_0',
    reasoning: true,
  },
  // IBM Granite 4.0 hybrids (granitehybrid), trained for fill-in-the-middle: the completion models. Unsloth's
  // GGUF conversions of ibm-granite/granite-4.0-h-350m and h-1b (the instruct models, Apache 2.0).
  {
    id: 'granite-4.0-h-350m-q8_0',
    label: 'IBM Granite 4.0 H 350M — Q8_0',
    description: 'inline completions (fill-in-the-middle), fast on any CPU; 0.34B parameters',
    url: 'https://huggingface.co/unsloth/granite-4.0-h-350m-GGUF/resolve/main/granite-4.0-h-350m-Q8_0.gguf',
    fileName: 'granite-4.0-h-350m-Q8_0.gguf',
    sizeBytes: 380_000_000,
    approximate: true,
    architecture: 'granitehybrid',
    quantization: 'Q8_0',
    reasoning: false,
    fim: true,
  },
  {
    id: 'granite-4.0-h-1b-q4_k_m',
    label: 'IBM Granite 4.0 H 1B — Q4_K_M',
    description: 'inline completions (fill-in-the-middle), better than the 350M, still light on a CPU; 1.5B parameters',
    url: 'https://huggingface.co/unsloth/granite-4.0-h-1b-GGUF/resolve/main/granite-4.0-h-1b-Q4_K_M.gguf',
    fileName: 'granite-4.0-h-1b-Q4_K_M.gguf',
    sizeBytes: 1_000_000_000,
    approximate: true,
    architecture: 'granitehybrid',
    quantization: 'Q4_K_M',
    reasoning: false,
    fim: true,
  },
  {
    id: 'granite-4.0-h-1b-q8_0',
    label: 'IBM Granite 4.0 H 1B — Q8_0',
    description: 'inline completions (fill-in-the-middle), near-lossless; 1.5B parameters',
    url: 'https://huggingface.co/unsloth/granite-4.0-h-1b-GGUF/resolve/main/granite-4.0-h-1b-Q8_0.gguf',
    fileName: 'granite-4.0-h-1b-Q8_0.gguf',
    sizeBytes: 1_600_000_000,
    approximate: true,
    architecture: 'granitehybrid',
    quantization: 'Q8_0',
    reasoning: false,
    fim: true,
  },
];

/** A file name for a download from any URL: the URL's last path segment when it is a .gguf name. */
export function fileNameFromUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const last = decodeURIComponent(u.pathname.split('/').pop() ?? '');
  if (!/\.gguf$/i.test(last) || /[\\/:*?"<>|\u0000-\u001f]/.test(last) || last.startsWith('.')) return undefined;
  return last;
}

/**
 * Whether a URL may be downloaded from: https anywhere, plain http only to this machine (the tests' server;
 * a model fetched over plain http from elsewhere could be swapped on the way).
 */
export function checkDownloadUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return undefined;
  return `only https URLs can be downloaded from (plain http only from this machine): ${u.protocol}//${u.host}`;
}
