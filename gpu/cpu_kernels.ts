/**
 * The CPU definition of every GPU job: the same kernels/*.ts functions the CPU pipeline runs. Workers run
 * it when the GPU fails or loses its device, the start-up self-test and the tests compare the GPU against it.
 */
import { grayKernel } from "../kernels/gray.ts";
import { thresholdKernel } from "../kernels/threshold.ts";
import { maskFromSaturation, maskKernel, maskSaturation } from "../kernels/mask.ts";
import { levelsKernel } from "../kernels/quantize.ts";
import { mapToPalette } from "../kernels/median_cut.ts";
import { downsample2x } from "../kernels/downsample2x.ts";
import { histogram256 } from "../kernels/histogram.ts";
import type { GpuJob, GpuResult } from "./kernels.ts";

/** The result of `job` computed on the CPU. */
export function runOnCpu(job: GpuJob): GpuResult {
  const input = job.input;
  switch (job.kernel) {
    case "gray":
      return grayKernel(input);
    case "threshold":
      return thresholdKernel(grayKernel(input), job.t ?? 0, !!job.invert);
    case "mask":
      return maskKernel(input, job.t ?? 0, job.valid);
    case "maskSaturation":
      return maskSaturation(input, job.valid);
    case "maskFromSaturation":
      return maskFromSaturation(input, job.t ?? 0, job.valid);
    case "levels":
      return levelsKernel(input, job.levels ?? 2);
    case "palette":
      return mapToPalette(input, job.palette ?? new Uint8Array(3));
    case "downsample2x":
      return downsample2x(input);
    case "histogram":
      return histogram256(input.data.subarray(0, input.width * input.height));
  }
}
