// The remote client (native-models/remote) as the main process uses it: captures are sized and PNG-encoded by the
// model process (prepare-server-image in the engine protocol), because that work loads sharp, which this process
// must never load. The pixels are the CLI's: the model process runs the same encodeServerImage, and the data URL is
// made by the client's own serverImageOf.
import { ScreenAskError } from '../../native-models/model/errors.js';
import { serverImageOf, type ServerImagePreparer } from '../../native-models/remote/image-preparer.js';
import { connectServer, listServerModels } from '../../native-models/remote/remote-model.js';
import type { ImageSource } from '../shared/engine-protocol.js';
import type { RemoteClient } from './remote-engine.js';

/** The model process, as far as sizing captures goes (EngineSupervisor.prepareServerImage). */
export interface ServerImageSizer {
  prepareServerImage(params: { image: ImageSource; detail: 'low' | 'high'; maxPixels?: number }): Promise<{ png: Uint8Array; width: number; height: number }>;
}

/** A preparer that asks the model process: PNG bytes or a file path (what the app has); decoded pixels are refused. */
export function modelProcessImagePreparer(sizer: ServerImageSizer): ServerImagePreparer {
  return async (input, detail, maxPixels) => {
    const started = performance.now();
    let image: ImageSource;
    if (typeof input === 'string') image = { kind: 'path', path: input };
    else if (input instanceof Uint8Array) image = { kind: 'png', bytes: input };
    else throw new ScreenAskError('The app sends captures to a server as PNG bytes: encode the image as PNG before asking.');
    const sized = await sizer.prepareServerImage({ image, detail, ...(maxPixels !== undefined ? { maxPixels } : {}) });
    return serverImageOf(sized, started);
  };
}

/** The real client, with captures sized by `prepareImage`. */
export function remoteClient(prepareImage: ServerImagePreparer): RemoteClient {
  return { listServerModels, connectServer: (options) => connectServer({ ...options, prepareImage }) };
}
