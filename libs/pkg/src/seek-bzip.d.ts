declare module 'seek-bzip' {
  interface InputStream {
    readByte(): number;
    read(buf: Uint8Array, off: number, len: number): number;
    seek(pos: number): void;
    eof(): boolean;
  }
  interface OutputStream {
    writeByte(byte: number): void;
  }
  const Bunzip: {
    decode(input: Uint8Array | InputStream, output?: OutputStream | number, multistream?: boolean): Uint8Array;
  };
  export default Bunzip;
}
