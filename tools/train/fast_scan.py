"""A memory-efficient drop-in for transformers' pure-torch Mamba-2 chunked scan (training only).

transformers' `mamba2_chunk_scan` (models/nemotron_h, used when the mamba_ssm kernels are absent) forms
[batch, chunks, chunk, chunk, heads, head_dim] intermediates by broadcasting and summing: at batch 32 x 1024
tokens, 16 heads of 64, that is 17 GB per layer. This version computes the same SSD chunked form
(Mamba-2 paper, "minimal discrete" algorithm: same dt handling, same clamp, same D skip, same chunking)
with einsum contractions (batched matmuls). The saved checkpoint is a standard NemotronH checkpoint:
only the speed/memory of training changes. tests: tools/train/test_train.py compares both functions.
"""

import torch
import torch.nn.functional as F


def _segsum(x):
    # x [..., T] -> [..., T, T] with out[..., i, j] = sum_{j < k <= i} x[..., k] for j <= i, -inf above.
    T = x.size(-1)
    xe = x[..., None].expand(*x.size(), T)
    mask = torch.tril(torch.ones(T, T, device=x.device, dtype=torch.bool), diagonal=-1)
    xe = xe.masked_fill(~mask, 0)
    s = torch.cumsum(xe, dim=-2)
    mask = torch.tril(torch.ones(T, T, device=x.device, dtype=torch.bool), diagonal=0)
    return s.masked_fill(~mask, -torch.inf)


def fast_chunk_scan(*args, **kwargs):
    # the einsums must stay in float32 under bf16 autocast (transformers' version uses mul + sum, which
    # autocast leaves in float32)
    with torch.autocast(args[0].device.type, enabled=False):
        return _chunk_scan(*args, **kwargs)


def _chunk_scan(hidden_states, dt, A, B, C, chunk_size, D=None, dt_bias=None, initial_states=None,
                dt_softplus=False, dt_limit=(0.0, float("inf")), return_final_states=False, **kwargs):
    if kwargs.get("z") is not None:
        raise NotImplementedError("z gating is applied outside the scan in NemotronH")
    b, T, h, p = hidden_states.shape
    g = B.shape[2]
    if dt_bias is not None:
        dt = dt + dt_bias.to(dt.dtype)
    if dt_softplus:
        dt = F.softplus(dt)
    dt = torch.clamp(dt, min=dt_limit[0], max=dt_limit[1]).float()
    x = hidden_states.float()
    B = B.float().repeat_interleave(h // g, dim=2, output_size=h)
    C = C.float().repeat_interleave(h // g, dim=2, output_size=h)
    pad = (chunk_size - T % chunk_size) % chunk_size
    D_res = D.float()[:, None] * x if D is not None else None
    x = x * dt[..., None]
    Adt = A.float() * dt  # [b, T, h]
    if pad:
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        B = F.pad(B, (0, 0, 0, 0, 0, pad))
        C = F.pad(C, (0, 0, 0, 0, 0, pad))
        Adt = F.pad(Adt, (0, 0, 0, pad))
    nc = (T + pad) // chunk_size
    x = x.reshape(b, nc, chunk_size, h, p)
    B = B.reshape(b, nc, chunk_size, h, -1)
    C = C.reshape(b, nc, chunk_size, h, -1)
    Adt = Adt.reshape(b, nc, chunk_size, h).permute(0, 3, 1, 2)  # [b, h, c, l]
    A_cs = torch.cumsum(Adt, dim=-1)

    # 1. intra-chunk (diagonal blocks)
    L = torch.exp(_segsum(Adt))  # [b, h, c, l, s]
    CB = torch.einsum("bclhn,bcshn->bchls", C, B)
    Y_diag = torch.einsum("bchls,bcshp->bclhp", CB * L.permute(0, 2, 1, 3, 4), x)

    # 2. per-chunk final states
    decay_states = torch.exp(A_cs[..., -1:] - A_cs)  # [b, h, c, l]
    states = torch.einsum("bclhn,bclhp->bchpn", B * decay_states.permute(0, 2, 3, 1)[..., None], x)

    # 3. inter-chunk recurrence
    prev = (initial_states[:, None].to(states.dtype) if initial_states is not None
            else torch.zeros_like(states[:, :1]))
    states = torch.cat([prev, states], dim=1)  # [b, c+1, h, p, n]
    decay_chunk = torch.exp(_segsum(F.pad(A_cs[..., -1], (1, 0))))  # [b, h, c+1, c+1]
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]

    # 4. state -> output
    Y_off = torch.einsum("bclhn,bchpn->bclhp", C, states) * torch.exp(A_cs).permute(0, 2, 3, 1)[..., None]
    y = (Y_diag + Y_off).reshape(b, -1, h, p)[:, :T]
    if D_res is not None:
        y = y + D_res
    if return_final_states:
        return y, final_state
    return y


def install():
    """Route NemotronH's Mamba-2 mixer to fast_chunk_scan. Returns a function that restores the original."""
    from transformers.models.nemotron_h import modeling_nemotron_h as m
    orig = m.mamba2_chunk_scan
    m.mamba2_chunk_scan = fast_chunk_scan

    def restore():
        m.mamba2_chunk_scan = orig
    return restore
