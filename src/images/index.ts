export { ensureImage, dockerChanges, KEEP_BUILDS, type EnsureImageOptions, type EnsuredImage, type ImageProgress } from './ensure-image.js';
export {
  DEFAULT_DOCKER_IMAGE,
  DEFAULT_DOCKER_TAG,
  DOCKER_IMAGE_REPOSITORY,
  IMAGE_FORMATS,
  defaultImageRef,
  imageFormatFor,
  imagesDir,
  type ImageFormat,
} from './image-format.js';
export { collectImageInputs, IMAGE_LAYOUT_VERSION, type ImageInputs } from './image-inputs.js';
export { IMAGE_MANIFEST_PATH } from './rootfs.js';
export { findSifBuilder, type SifBuilder, type SifBuilderFinding } from './sif/find-sif-builder.js';
export { buildSifWithSiftool, sifArchitecture, SIF_LAUNCH_SCRIPT, type SiftoolBuildOptions } from './sif/sif-builder.js';
export { primaryPartition, readSif, SifFormatError, type SifDescriptor, type SifHeader, type SifImage, type SifPartition } from './sif/sif-reader.js';
export { parseSiftoolList, summariseSifObjects, type SifObjectSummary } from './sif/sif-layout.js';
export { SINGULARITY_DIR, sifDefinition } from './singularity-layout.js';
