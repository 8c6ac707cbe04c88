console.log("hpc-sandbox: not yet");
