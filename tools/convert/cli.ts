// npm run convert -- --in HF_DIR --out FILE.gguf --type f32|f16|bf16|q8_0|q4_k [--name NAME] [--license ID]
// (node out/tools/convert/cli.js …): a Hugging Face NemotronHForCausalLM checkpoint to GGUF.
import { convertCheckpoint, ConvertError, OUT_TYPES, type OutType } from './convert';

const USAGE = `usage: convert --in HF_DIR --out FILE.gguf --type ${OUT_TYPES.join('|')} [--name NAME] [--license ID]
  HF_DIR holds config.json, model.safetensors (or model-0000x-of-0000y.safetensors shards + index json),
  tokenizer.json and optionally tokenizer_config.json (chat template).`;

export function main(argv: string[]): number {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      console.log(USAGE);
      return 0;
    }
    if (!a.startsWith('--') || i + 1 >= argv.length) {
      console.error(`convert: unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
      return 2;
    }
    args[a.slice(2)] = argv[++i];
  }
  const known = new Set(['in', 'out', 'type', 'name', 'license']);
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length || !args.in || !args.out) {
    console.error(`convert: ${unknown.length ? `unknown option --${unknown[0]}` : '--in and --out are required'}\n${USAGE}`);
    return 2;
  }
  const type = (args.type ?? 'f32') as OutType;
  if (!OUT_TYPES.includes(type)) {
    console.error(`convert: unknown --type ${type} (${OUT_TYPES.join(', ')})`);
    return 2;
  }
  try {
    convertCheckpoint({ inDir: args.in, outFile: args.out, type, name: args.name, license: args.license, log: (l) => console.log(l) });
    return 0;
  } catch (e) {
    if (e instanceof ConvertError) {
      console.error(`convert: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
