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
