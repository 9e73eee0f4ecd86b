// What TypeScript's DOM library lacks and Chrome has (checked with `tsc -p jsconfig.json`).
interface AudioContext {
  readonly sinkId: string;
  setSinkId(sinkId: string): Promise<void>;
}
interface MediaTrackConstraints {
  suppressLocalAudioPlayback?: boolean;
}
interface DisplayMediaStreamOptions {
  systemAudio?: "include" | "exclude";
  selfBrowserSurface?: "include" | "exclude";
}
interface Window {
  rutrans: { events: object[]; [name: string]: unknown };
}
