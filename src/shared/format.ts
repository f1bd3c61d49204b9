// Human-readable formatting shared by the status bar, logs and info displays.
import type { RuntimeInfo } from './protocol';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function describeRuntime(info: RuntimeInfo): string[] {
  const cpu = info.cpu;
  const lines = [
    `Hybrid Copilot runtime ${info.addonVersion} (${info.system.build}), worker pid ${info.worker.pid}, Node ${info.worker.node}`,
    `CPU: ${cpu.arch} ${cpu.brand || ''}, ${cpu.logicalCores} logical cores; features: ${cpu.features.join(' ') || 'none'}`,
  ];
  if (!info.cuda.compiled) lines.push(`CUDA: ${info.cuda.status}`);
  else {
    lines.push(`CUDA: built for sm ${info.cuda.archs}, runtime ${info.cuda.runtimeVersion}: ${info.cuda.status}`);
    for (const d of info.cuda.devices) {
      lines.push(`  GPU ${d.index}: ${d.name} (sm ${d.computeCapability}, ${formatBytes(d.totalMemory)}, ${formatBytes(d.freeMemory)} free)`);
    }
  }
  lines.push(`Device: ${info.device.using} (${info.device.reason})`);
  const m = info.model;
  lines.push(
    m.status === 'none'
      ? 'Model: none configured'
      : m.status === 'missing'
        ? `Model: ${m.path} (file not found)`
        : `Model: ${m.path} (${formatBytes(m.sizeBytes ?? 0)})`,
  );
  lines.push(`Worker memory: ${formatBytes(info.worker.rssBytes)} RSS`);
  return lines;
}
