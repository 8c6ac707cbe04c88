console.log("server: not yet");
