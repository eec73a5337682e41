# sattva doctor's Python probe. Prints one JSON object on stdout; progress
# ("probing NAME") on stderr so that a hang can be pinned to a module.
# Never raises: every failure is recorded in the JSON.
import json, os, sys

real_stdout = sys.stdout
sys.stdout = sys.stderr  # packages that print on import must not corrupt the JSON

out = {"python": {"version": sys.version.split()[0], "executable": sys.executable,
                  "prefix": sys.prefix, "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix)},
       "modules": {}}


def step(name):
    sys.stderr.write("probing %s\n" % name)
    sys.stderr.flush()


def err(e):
    msg = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, msg[-1] if msg else "")


def mod(name):
    step(name)
    m = {"ok": False}
    try:
        x = __import__(name)
        m["ok"] = True
        m["version"] = str(getattr(x, "__version__", "") or "")
        out["modules"][name] = m
        return x
    except BaseException as e:  # ImportError, OSError from a missing DLL, SystemExit from a bad package
        m["error"] = err(e)
        out["modules"][name] = m
        return None


torch = mod("torch")
if torch is not None:
    t = out["modules"]["torch"]
    try:
        t["cuda_build"] = str(getattr(torch.version, "cuda", None) or "")
        t["cuda_available"] = bool(torch.cuda.is_available())
        if t["cuda_available"]:
            t["device_count"] = torch.cuda.device_count()
            t["device_name"] = torch.cuda.get_device_name(0)
            t["bf16"] = bool(torch.cuda.is_bf16_supported())
            free, total = torch.cuda.mem_get_info(0)
            t["free_bytes"], t["total_bytes"] = int(free), int(total)
    except BaseException as e:
        t["cuda_error"] = err(e)

for name in ("transformers", "peft", "accelerate", "datasets"):
    mod(name)

bnb = mod("bitsandbytes")
if bnb is not None:
    b = out["modules"]["bitsandbytes"]
    step("bitsandbytes CUDA library")
    try:
        if torch is not None and torch.cuda.is_available():
            import bitsandbytes.functional as F
            q, state = F.quantize_4bit(torch.ones(64, 64, device="cuda", dtype=torch.bfloat16), quant_type="nf4")
            back = F.dequantize_4bit(q, state)
            b["cuda_ok"] = bool(abs(float(back.float().mean()) - 1.0) < 0.1)
        else:
            b["cuda_ok"] = False
            b["cuda_error"] = "no CUDA device visible to torch"
    except BaseException as e:
        b["cuda_ok"] = False
        b["cuda_error"] = err(e)

mod("llamafactory")

real_stdout.write("\n" + json.dumps(out) + "\n")
real_stdout.flush()
